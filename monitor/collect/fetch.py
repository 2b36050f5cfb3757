"""Hardened async HTTP GET for feeds and pages: guarded hosts, size caps, timeouts, conditional GET.

Reads: the network (http/https to public addresses unless allowed). Writes: nothing.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Literal

import aiohttp
from yarl import URL

from monitor.collect.netguard import (
    BlockedURL,
    GuardedResolver,
    MalformedURL,
    check_url,
    resolve_redirect,
)

__all__ = ["ACCEPT", "FetchError", "FetchErrorKind", "FetchResult", "FetchSettings", "Fetcher"]

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_ACCEPT_ENCODING = "gzip, deflate"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_CHUNK_SIZE = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"

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
]


@dataclass(frozen=True)
class FetchSettings:
    user_agent: str
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 30.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    allow_private_networks: bool = False
    concurrency: int = 8  # global simultaneous requests
    per_host_concurrency: int = 2

    def __post_init__(self) -> None:
        if not self.user_agent.strip():
            raise ValueError("user_agent must not be empty")
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        # 0 means "unlimited" to aiohttp's connector, which is never what a polite poller wants.
        for name in ("max_bytes", "concurrency", "per_host_concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must be >= 0")


@dataclass(frozen=True)
class FetchResult:
    url: str  # final URL after redirects
    status: int  # 200 or 304
    body: bytes  # decompressed; b"" on 304
    content_type: str | None
    etag: str | None
    last_modified: str | None
    elapsed: float  # seconds

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class FetchError(Exception):
    """A fetch that produced no usable body; `kind` says why, str() is one human-readable line."""

    def __init__(
        self,
        kind: FetchErrorKind,
        message: str,
        *,
        url: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        # One line, so that a server-controlled string cannot forge extra log records.
        super().__init__(" ".join(message.split()))
        self.kind: FetchErrorKind = kind
        self.status = status
        self.retry_after = retry_after
        self.url = url  # the URL of the request (or refused redirect target) that failed


class _TooLarge(Exception):
    pass


class _Corrupt(Exception):
    pass


class _BoundedDecoder:
    """Undoes Content-Encoding incrementally, never holding more than `cap` + 1 output bytes.

    zlib's max_length plus draining unconsumed_tail is what bounds memory: a 1 GiB gzip bomb
    stops after about cap bytes of output and a few KiB of input.
    """

    def __init__(self, encoding: Literal["identity", "gzip", "deflate"], cap: int) -> None:
        self._encoding = encoding
        self._cap = cap
        self._parts: list[bytes] = []
        self._size = 0
        self._stream: zlib._Decompress | None = None
        self._pending = b""  # held until there are enough bytes to identify the next stream
        self._streams = 0
        self._ignore_rest = False

    def _emit(self, data: bytes) -> None:
        if data:
            self._size += len(data)
            if self._size > self._cap:
                raise _TooLarge
            self._parts.append(data)

    def _open_stream(self, head: bytes) -> zlib._Decompress | None:
        if self._streams and not (self._encoding == "gzip" and head.startswith(_GZIP_MAGIC)):
            # Some servers pad after the compressed stream; what follows is not body.
            self._ignore_rest = True
            return None
        self._streams += 1
        if self._encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" is meant to be zlib-wrapped (RFC 9110), but many servers send raw deflate.
        cmf, flg = head[0], head[1]
        wrapped = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> None:
        if self._encoding == "identity":
            self._emit(chunk)
            return
        data = self._pending + chunk
        self._pending = b""
        try:
            while data and not self._ignore_rest:
                if self._stream is None:
                    if len(data) < 2:
                        self._pending = data
                        return
                    self._stream = self._open_stream(data[:2])
                    if self._stream is None:
                        return
                stream = self._stream
                self._emit(stream.decompress(data, self._cap - self._size + 1))
                while stream.unconsumed_tail:
                    self._emit(
                        stream.decompress(stream.unconsumed_tail, self._cap - self._size + 1)
                    )
                if stream.eof:
                    data = stream.unused_data
                    self._stream = None
                else:
                    data = b""
        except zlib.error as exc:
            raise _Corrupt(f"bad {self._encoding} data: {exc}") from exc

    def finish(self) -> bytes:
        if not self._ignore_rest and (self._stream is not None or self._pending):
            raise _Corrupt(f"{self._encoding} body is truncated")
        return b"".join(self._parts)


def _content_coding(header: str | None) -> Literal["identity", "gzip", "deflate"] | None:
    value = (header or "").strip().lower()
    if value in ("", "identity"):
        return "identity"
    if value in ("gzip", "x-gzip"):
        return "gzip"
    if value == "deflate":
        return "deflate"
    return None


def _parse_retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 5322 "-0000" yields a naive datetime; HTTP dates are always UTC.
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _secs(value: float) -> str:
    return f"{value:g}s"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Fetcher:
    """One aiohttp session with the guard, caps and timeouts; use as an async context manager."""

    def __init__(
        self, settings: FetchSettings, *, now: Callable[[], datetime] | None = None
    ) -> None:
        self._settings = settings
        self._now = now or _utcnow
        self._session: aiohttp.ClientSession | None = None
        self._resolver: GuardedResolver | None = None
        self._closed = False
        self._global_slots = asyncio.Semaphore(settings.concurrency)
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._host_users: dict[str, int] = {}

    async def __aenter__(self) -> Fetcher:
        self._get_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        if self._resolver is not None:
            # aiohttp only closes resolvers it created itself, not one passed to the connector.
            resolver, self._resolver = self._resolver, None
            await resolver.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("Fetcher is closed")
        if self._session is None:
            s = self._settings
            # Created on first use because aiohttp binds the session to the running loop.
            self._resolver = GuardedResolver(allow_private=s.allow_private_networks)
            connector = aiohttp.TCPConnector(
                resolver=self._resolver,
                limit=s.concurrency,
                limit_per_host=s.per_host_concurrency,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=s.total_timeout, connect=s.connect_timeout, sock_read=s.read_timeout
                ),
                trust_env=False,  # an environment proxy would bypass the resolver guard
                auto_decompress=False,  # decompressed here, under the size cap
                # Feeds are fetched anonymously; a shared jar would leak cookies across sites.
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={
                    "User-Agent": s.user_agent,
                    "Accept": ACCEPT,
                    "Accept-Encoding": _ACCEPT_ENCODING,
                },
            )
        return self._session

    @asynccontextmanager
    async def _slot(self, url: URL) -> AsyncIterator[None]:
        # aiohttp's ClientTimeout counts time spent waiting for a pooled connection, so queued
        # requests would time out without ever being sent; waiting here, before the clock
        # starts, avoids that. Per-host first, so a busy host does not hold global slots.
        key = f"{url.scheme}://{url.raw_host}:{url.port}"
        host_slot = self._host_slots.get(key)
        if host_slot is None:
            host_slot = self._host_slots[key] = asyncio.Semaphore(
                self._settings.per_host_concurrency
            )
        self._host_users[key] = self._host_users.get(key, 0) + 1
        try:
            async with host_slot, self._global_slots:
                yield
        finally:
            self._host_users[key] -= 1
            if not self._host_users[key]:
                del self._host_users[key], self._host_slots[key]

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """GET `url`, following up to max_redirects checked redirects; raises FetchError."""
        s = self._settings
        cap = s.max_bytes if max_bytes is None else max_bytes
        try:
            check_url(url, s.allow_private_networks)
        except BlockedURL as exc:
            raise self._blocked(exc, url) from exc
        target = URL(url)
        session = self._get_session()
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._slot(target):
            started = time.monotonic()
            try:
                async with asyncio.timeout(s.total_timeout):
                    return await self._follow(session, target, headers, cap, started)
            except TimeoutError as exc:
                # Only the overall deadline gets here; per-request timeouts are mapped inside.
                raise FetchError(
                    "timeout", f"timed out after {_secs(s.total_timeout)}", url=url
                ) from exc

    async def _follow(
        self,
        session: aiohttp.ClientSession,
        first: URL,
        headers: dict[str, str],
        cap: int,
        started: float,
    ) -> FetchResult:
        s = self._settings
        current = first
        next_url = ""
        seen = {str(first)}
        redirects = 0
        while True:
            try:
                async with session.get(current, headers=headers, allow_redirects=False) as resp:
                    status = resp.status
                    if status in _REDIRECT_STATUSES:
                        location = resp.headers.get("Location")
                        if not location:
                            raise FetchError(
                                "protocol",
                                f"HTTP {status} without Location from {current}",
                                url=str(current),
                            )
                        try:
                            next_url = resolve_redirect(
                                str(current), location, s.allow_private_networks
                            )
                        except BlockedURL as exc:
                            raise self._blocked(
                                exc, exc.url or location, f" (redirect from {current})"
                            ) from exc
                    elif status == 304:
                        return FetchResult(
                            url=str(current),
                            status=304,
                            body=b"",
                            content_type=resp.headers.get("Content-Type"),
                            etag=resp.headers.get("ETag") or headers.get("If-None-Match"),
                            last_modified=resp.headers.get("Last-Modified")
                            or headers.get("If-Modified-Since"),
                            elapsed=time.monotonic() - started,
                        )
                    elif 200 <= status < 300:
                        body = await self._read_body(resp, cap, str(current))
                        return FetchResult(
                            url=str(current),
                            status=status,
                            body=body,
                            content_type=resp.headers.get("Content-Type"),
                            etag=resp.headers.get("ETag"),
                            last_modified=resp.headers.get("Last-Modified"),
                            elapsed=time.monotonic() - started,
                        )
                    else:
                        retry_after = None
                        if status in _RETRY_AFTER_STATUSES:
                            retry_after = _parse_retry_after(
                                resp.headers.get("Retry-After"), self._now()
                            )
                        message = f"HTTP {status} from {current}"
                        if retry_after is not None:
                            message += f" (retry after {_secs(retry_after)})"
                        raise FetchError(
                            "http",
                            message,
                            url=str(current),
                            status=status,
                            retry_after=retry_after,
                        )
            except FetchError:
                raise
            # OSError covers TimeoutError, ssl.SSLError and ConnectionError.
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                raise self._map_error(exc, current) from exc

            redirects += 1
            if redirects > s.max_redirects:
                raise FetchError(
                    "redirects", f"more than {s.max_redirects} redirects from {first}", url=next_url
                )
            if next_url in seen:
                raise FetchError("redirects", f"redirect loop at {next_url}", url=next_url)
            seen.add(next_url)
            current = URL(next_url)

    async def _read_body(self, resp: aiohttp.ClientResponse, cap: int, url: str) -> bytes:
        too_large = f"body larger than {cap} bytes"
        coding = _content_coding(resp.headers.get("Content-Encoding"))
        if coding is None:
            raise FetchError(
                "protocol",
                f"unsupported Content-Encoding {resp.headers.get('Content-Encoding')!r} from {url}",
                url=url,
            )
        # The wire size is capped as well: a compressed body larger than the cap is no feed.
        length = resp.content_length
        if length is not None and length > cap:
            resp.close()
            raise FetchError("too_large", f"{too_large} (Content-Length {length})", url=url)
        decoder = _BoundedDecoder(coding, cap)
        received = 0
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK_SIZE):
                received += len(chunk)
                if received > cap:
                    raise _TooLarge
                decoder.feed(chunk)
            body = decoder.finish()
        except _TooLarge:
            # Closing drops the connection instead of draining the rest of a hostile body.
            resp.close()
            raise FetchError("too_large", too_large, url=url) from None
        except _Corrupt as exc:
            resp.close()
            raise FetchError("protocol", f"{exc} from {url}", url=url) from exc
        if not body:
            raise FetchError("empty", f"empty body from {url}", url=url)
        return body

    @staticmethod
    def _blocked(exc: BlockedURL, url: str, context: str = "") -> FetchError:
        kind: FetchErrorKind = "bad_url" if isinstance(exc, MalformedURL) else "blocked"
        return FetchError(kind, f"{exc}{context}", url=url)

    def _map_error(self, exc: BaseException, url: URL) -> FetchError:
        s = self._settings
        where = f"{url.raw_host}:{url.port}"
        u = str(url)
        if isinstance(exc, aiohttp.ClientConnectorDNSError):
            if isinstance(exc.os_error, BlockedURL):
                return self._blocked(exc.os_error, u)
            return FetchError("dns", f"DNS lookup failed for {url.raw_host}: {exc.os_error}", url=u)
        if isinstance(
            exc, aiohttp.ClientSSLError | aiohttp.ServerFingerprintMismatch | ssl.SSLError
        ):
            detail = exc.os_error if isinstance(exc, aiohttp.ClientSSLError) else exc
            return FetchError("tls", f"TLS error with {where}: {detail}", url=u)
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return FetchError(
                "timeout", f"connect to {where} timed out after {_secs(s.connect_timeout)}", url=u
            )
        if isinstance(exc, aiohttp.SocketTimeoutError):
            return FetchError("timeout", f"no data from {where} for {_secs(s.read_timeout)}", url=u)
        if isinstance(exc, TimeoutError):
            # aiohttp's own total timer, which runs alongside the overall deadline in get().
            return FetchError("timeout", f"timed out after {_secs(s.total_timeout)}", url=u)
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
