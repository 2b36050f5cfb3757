"""Hardened async HTTP GET for feeds and pages: guarded hosts, size caps, timeouts, conditional GET.

Reads: the network (http/https to public addresses unless allowed). Writes: nothing. One request
is fetch.py; redirects.py follows them, decode.py reads bodies under the cap, errors.py names
what went wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from monitor.clock import Clock, utcnow
from monitor.collect.errors import FetchError, FetchErrorKind, blocked, secs
from monitor.collect.netguard import BlockedURL, GuardedResolver, check_url
from monitor.collect.redirects import FetchResult, follow
from monitor.config import FetchConfig

__all__ = ["ACCEPT", "FetchError", "FetchErrorKind", "FetchResult", "Fetcher"]

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_ACCEPT_ENCODING = "gzip, deflate"


class Fetcher:
    """One aiohttp session with the guard, caps and timeouts; use as an async context manager."""

    def __init__(
        self, settings: FetchConfig, *, now: Clock = utcnow, dns: AbstractResolver | None = None
    ) -> None:
        self._settings = settings
        self._now = now
        self._dns = dns  # the resolver the guard asks (tests answer from a table); None: system
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
            self._resolver = GuardedResolver(s.allow_private_networks, inner=self._dns)
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
            raise blocked(exc, url) from exc
        session = self._get_session()
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        target = URL(url)
        async with self._slot(target):
            try:
                async with asyncio.timeout(s.total_timeout):
                    return await follow(session, target, headers, cap, s, self._now)
            except TimeoutError as exc:
                # Only the overall deadline gets here; per-request timeouts are mapped inside.
                raise FetchError(
                    "timeout", f"timed out after {secs(s.total_timeout)}", url=url
                ) from exc
