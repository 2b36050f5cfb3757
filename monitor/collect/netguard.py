"""Private-network guard: decides whether a URL or a resolved address may be fetched.

Reads: URL strings and DNS answers (through aiohttp's resolver). Writes: nothing.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

__all__ = [
    "BlockedAddress",
    "BlockedURL",
    "GuardedResolver",
    "MalformedURL",
    "check_url",
    "is_public_ip",
    "resolve_redirect",
]

_ALLOWED_SCHEMES = frozenset({"http", "https"})
_MAX_URL_LENGTH = 8192
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# Backslash is read as "/" by some parsers and as userinfo by others (GHSA-rph4-96w6-q594).
_BAD_ASCII_RE = re.compile(r"[\x00-\x20\x7f\\]")
# Control, invisible-format, lone-surrogate (undecodable header bytes) and space characters,
# which parsers disagree on.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
_HOSTNAME_RE = re.compile(r"[a-z0-9_\-]+(\.[a-z0-9_\-]+)*\.?")
# A host whose last label is a number is an IPv4 address to WHATWG-style parsers and to
# inet_aton (which accepts 2130706433, 0177.0.0.1, 0x7f.1, 127.1), so it must be a plain quad.
_NUMERIC_LABEL_RE = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)

# Ranges that `ipaddress` does not flag on every Python version, or flags only via is_global.
_V4_BLOCKED = tuple(
    IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT; also Alibaba metadata at 100.100.100.100
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata at 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes 255.255.255.255
    )
)
_V6_GLOBAL_UNICAST = IPv6Network("2000::/3")
_V6_NAT64 = IPv6Network("64:ff9b::/96")
_V6_BLOCKED = tuple(
    IPv6Network(n)
    for n in (
        "2001::/23",  # IETF protocol assignments: Teredo, ORCHID, benchmarking, AMT…
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4 (embedded IPv4 is judged before this table is consulted)
        "3fff::/20",  # documentation (RFC 9637)
    )
)


class BlockedURL(Exception):
    """A URL or address the fetcher must not contact."""

    verb = "blocked"

    def __init__(
        self,
        reason: str,
        *,
        url: str | None = None,
        host: str | None = None,
        ip: str | None = None,
    ) -> None:
        self.reason = reason
        self.url = url
        self.host = host
        self.ip = ip
        if host is not None:
            target = f"host {host!r}" + (f" ({ip})" if ip and ip != host else "")
        elif url is not None:
            # repr keeps control characters from an attacker's URL out of log lines.
            target = f"URL {_shorten(url)!r}"
        else:
            target = "URL"
        super().__init__(f"{self.verb} {target}: {reason}")


class MalformedURL(BlockedURL):
    """The URL cannot be parsed or has no host; the fetcher reports it as "bad_url"."""

    verb = "invalid"


class BlockedAddress(BlockedURL, OSError):
    """Raised by GuardedResolver; an OSError so that aiohttp wraps it in ClientConnectorDNSError."""


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _v4_is_public(ip: IPv4Address) -> bool:
    if any(ip in net for net in _V4_BLOCKED):
        return False
    if ip.is_private or ip.is_reserved or ip.is_loopback or ip.is_link_local:
        return False
    if ip.is_multicast or ip.is_unspecified:
        return False
    return ip.is_global


def is_public_ip(ip: IPv4Address | IPv6Address) -> bool:
    """True only for globally routable unicast addresses; wrapped IPv4 is judged by its IPv4."""
    if isinstance(ip, IPv4Address):
        return _v4_is_public(ip)
    if ip.scope_id:
        return False
    # A dual-stack socket connects ::ffff:a.b.c.d to a.b.c.d; NAT64 and 6to4 reach it via gateways.
    if ip.ipv4_mapped is not None:
        return _v4_is_public(ip.ipv4_mapped)
    if ip in _V6_NAT64:
        return _v4_is_public(IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        return _v4_is_public(ip.sixtofour)
    if ip.teredo is not None:
        return False
    # Everything outside 2000::/3 (ULA, link/site-local, multicast, ::/8, 100::/64, the local
    # NAT64 64:ff9b:1::/48) is non-public, so an allowlist is safer than listing them all.
    if ip not in _V6_GLOBAL_UNICAST or any(ip in net for net in _V6_BLOCKED):
        return False
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_link_local:
        return False
    return ip.is_global


def _has_bad_chars(url: str) -> bool:
    if _BAD_ASCII_RE.search(url):
        return True
    if url.isascii():
        return False
    return any(unicodedata.category(c) in _BAD_CATEGORIES for c in url if not c.isascii())


def check_url(url: str, allow_private: bool) -> None:
    """Raise BlockedURL unless `url` is an http(s) URL with a sane host that may be contacted.

    Host names are only checked for syntax here; GuardedResolver checks what they resolve to.
    Raises MalformedURL (a BlockedURL) when the URL does not parse or has no host.
    """
    if len(url) > _MAX_URL_LENGTH:
        raise MalformedURL(f"longer than {_MAX_URL_LENGTH} characters", url=url)
    if _has_bad_chars(url):
        raise BlockedURL("contains a backslash, whitespace or control character", url=url)
    # The scheme is checked on the raw text so that file:, data: etc. are refused even when
    # the rest of the string would not parse.
    m = _SCHEME_RE.match(url)
    if m is None:
        raise BlockedURL("no scheme; only http and https are allowed", url=url)
    scheme = m.group(1).lower()
    if scheme not in _ALLOWED_SCHEMES:
        raise BlockedURL(f"scheme {scheme!r} is not http or https", url=url)
    try:
        # yarl is the parser aiohttp itself uses, so what is checked is what gets connected to.
        parsed = URL(url)
        host = parsed.raw_host
    except (ValueError, TypeError) as exc:
        raise MalformedURL(f"does not parse ({exc})", url=url) from exc
    if not host:
        raise MalformedURL("has no host", url=url)
    if "%" in host:
        # Percent-escapes in a host, or an IPv6 zone id: no public feed needs either.
        raise BlockedURL("percent-encoded host or IPv6 zone id", url=url, host=host)

    ip: IPv4Address | IPv6Address | None = None
    if ":" in host:
        try:
            ip = IPv6Address(host)
        except ValueError as exc:
            raise MalformedURL(f"bad IPv6 literal ({exc})", url=url, host=host) from exc
    else:
        labels = host.split(".")
        if len(labels) > 1 and labels[-1] == "":
            labels.pop()
        if _NUMERIC_LABEL_RE.fullmatch(labels[-1]):
            try:
                ip = IPv4Address(host)
            except ValueError:
                ip = None
            if ip is None or str(ip) != host:
                raise BlockedURL(
                    "numeric host is not a canonical dotted-quad IPv4 address", url=url, host=host
                )
        elif not _HOSTNAME_RE.fullmatch(host):
            raise MalformedURL("invalid characters in host name", url=url, host=host)

    if ip is not None and not allow_private and not is_public_ip(ip):
        raise BlockedURL("not a public address", url=url, host=host, ip=str(ip))


def resolve_redirect(current: str, location: str, allow_private: bool) -> str:
    """Return the absolute URL a Location header points to, after check_url on it.

    The raw header is screened too: a relative Location such as ``\\\\host/x`` is a path to
    yarl but a host to browsers, so it is refused rather than resolved either way.
    """
    if _has_bad_chars(location):
        raise BlockedURL(
            "Location contains a backslash, whitespace or control character", url=location
        )
    if _SCHEME_RE.match(location):
        target = location
    else:
        try:
            target = str(URL(current).join(URL(location)))
        except (ValueError, TypeError) as exc:
            raise MalformedURL(f"Location does not parse ({exc})", url=location) from exc
    check_url(target, allow_private)
    return target


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that drops non-public addresses, so the check happens at connect time.

    Checking the addresses actually used for the connection (not a separate lookup made while
    validating) is what defeats DNS rebinding. aiohttp never calls a resolver for IP-literal
    hosts, so those must go through check_url on every hop.
    """

    def __init__(self, allow_private: bool = False, inner: AbstractResolver | None = None) -> None:
        self._allow_private = allow_private
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            # Created lazily: aiohttp's resolvers bind to the running event loop.
            self._inner = DefaultResolver()
        results = await self._inner.resolve(host, port, family)
        if self._allow_private:
            return results
        allowed: list[ResolveResult] = []
        refused: list[str] = []
        for result in results:
            try:
                ip = ipaddress.ip_address(result["host"])
            except ValueError:
                refused.append(result["host"])
                continue
            if is_public_ip(ip):
                allowed.append(result)
            else:
                refused.append(result["host"])
        if not allowed:
            ips = ", ".join(dict.fromkeys(refused)) or "no address"
            raise BlockedAddress("resolves only to non-public addresses", host=host, ip=ips)
        return allowed

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()
