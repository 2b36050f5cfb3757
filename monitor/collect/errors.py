"""Fetch errors: one exception with a kind, and the mapping from aiohttp/OS errors to it.

Reads: exceptions raised while fetching. Writes: nothing. Every message is one line, so a
server-controlled string cannot forge extra log records.
"""

from __future__ import annotations

import ssl
from datetime import timedelta
from typing import Literal

import aiohttp
from yarl import URL

from monitor.collect.netguard import BlockedURL, MalformedURL
from monitor.config import FetchConfig

FetchErrorKind = Literal[
    "blocked",
    "bad_url",
    "dns",
    "connect",
    "tls",
    "timeout",
    "http",
    "too_large",
    "redirects",
    "empty",
    "protocol",
    "challenge",  # a bot-protection challenge page (collect/challenge.py): reported, not bypassed
]


class FetchError(Exception):
    """A fetch that produced no usable body; `kind` says why, str() is one human-readable line."""

    def __init__(
        self,
        kind: FetchErrorKind,
        message: str,
        *,
        url: str,
        status: int | None = None,
        retry_after: timedelta | None = None,
    ) -> None:
        super().__init__(" ".join(message.split()))
        self.kind: FetchErrorKind = kind
        self.status = status
        self.retry_after = retry_after  # what the server asked (already clamped), if anything
        self.url = url  # the URL of the request (or refused redirect target) that failed


def secs(value: float) -> str:
    return f"{value:g}s"


def blocked(exc: BlockedURL, url: str, context: str = "") -> FetchError:
    kind: FetchErrorKind = "bad_url" if isinstance(exc, MalformedURL) else "blocked"
    return FetchError(kind, f"{exc}{context}", url=url)


def map_error(exc: BaseException, url: URL, settings: FetchConfig) -> FetchError:
    """The FetchError for an exception aiohttp or the OS raised while talking to `url`."""
    s = settings
    where = f"{url.raw_host}:{url.port}"
    u = str(url)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        if isinstance(exc.os_error, BlockedURL):
            return blocked(exc.os_error, u)
        return FetchError("dns", f"DNS lookup failed for {url.raw_host}: {exc.os_error}", url=u)
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ServerFingerprintMismatch | ssl.SSLError):
        detail = exc.os_error if isinstance(exc, aiohttp.ClientSSLError) else exc
        return FetchError("tls", f"TLS error with {where}: {detail}", url=u)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return FetchError(
            "timeout", f"connect to {where} timed out after {secs(s.connect_timeout)}", url=u
        )
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return FetchError("timeout", f"no data from {where} for {secs(s.read_timeout)}", url=u)
    if isinstance(exc, TimeoutError):
        # aiohttp's own total timer, which runs alongside the overall deadline in get().
        return FetchError("timeout", f"timed out after {secs(s.total_timeout)}", url=u)
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or exc.os_error
        return FetchError("connect", f"cannot connect to {where}: {reason}", url=u)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return FetchError("protocol", f"incomplete or malformed body from {u}: {exc}", url=u)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return FetchError("connect", f"{where} closed the connection without a response", url=u)
    if isinstance(exc, aiohttp.InvalidURL | ValueError):
        return FetchError("bad_url", f"invalid URL {u}: {exc}", url=u)
    if isinstance(exc, aiohttp.ClientResponseError):
        # Raised for an unparsable status line or headers, before any status is known.
        return FetchError("protocol", f"malformed response from {u}: {exc.message}", url=u)
    if isinstance(exc, aiohttp.ClientOSError | OSError):
        return FetchError("connect", f"connection to {where} failed: {exc}", url=u)
    return FetchError("protocol", f"{type(exc).__name__} from {u}: {exc}", url=u)
