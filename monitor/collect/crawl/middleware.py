"""Scrapy components of every crawl: the private-network guard on requests and DNS answers,
and retries of 429/503 after the delay the server asks for.

Reads: requests, responses and DNS answers of a crawl. Writes: nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.collect.netguard import BlockedURL, check_url, is_public_ip
from monitor.collect.retry import retry_after

log = logging.getLogger("monitor.crawl")

MAX_RETRY_AFTER = timedelta(minutes=5)  # longer asked waits give up on that page
DEFAULT_RETRY_AFTER = timedelta(seconds=5)  # a 429/503 without a readable Retry-After


class NetGuardMiddleware:
    """Refuses non-http(s) URLs and literal private addresses on every request and redirect hop
    (each hop is a new request through this middleware); GuardedHostResolver covers names that
    resolve to private addresses. A response from a private address is dropped as well, as a
    last line should any connection get past both."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler: Any) -> NetGuardMiddleware:
        return cls(crawler.settings.getbool("MONITOR_ALLOW_PRIVATE_NETWORKS"))

    def process_request(self, request: Any, spider: Any = None) -> None:
        from scrapy.exceptions import IgnoreRequest

        try:
            check_url(request.url, self.allow_private)
        except BlockedURL as exc:
            log.warning("request refused", extra={"url": request.url, "reason": str(exc)})
            raise IgnoreRequest(str(exc)) from None

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        from scrapy.exceptions import IgnoreRequest

        address = getattr(response, "ip_address", None)
        if self.allow_private or address is None or is_public_ip(address):
            return response
        log.warning("response refused", extra={"url": request.url, "address": str(address)})
        raise IgnoreRequest(f"{request.url} answered from {address}: not a public address")


class GuardedHostResolver:
    """The reactor's name resolver, wrapped: a name that resolves to a loopback, private or
    otherwise special address fails as a DNS error, so no crawl, enrichment or backfill ever
    connects there, whatever redirect or subdomain led to the name. Checked on every lookup
    (a name that answered a public address before may answer a private one now)."""

    def __init__(self, inner: Any, allow_private: bool) -> None:
        self.inner = inner
        self.allow_private = allow_private

    def getHostByName(self, name: str, timeout: Any = (10,)) -> Any:
        from twisted.internet.error import DNSLookupError

        d = self.inner.getHostByName(name, timeout)

        def check(address: str) -> str:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                raise DNSLookupError(f"blocked host {name!r}: unreadable answer") from None
            if not self.allow_private and not is_public_ip(ip):
                log.warning("connection refused", extra={"host": name, "address": address})
                raise DNSLookupError(f"blocked host {name!r} ({address}): not a public address")
            return address

        d.addCallback(check)
        return d


def install_guard(allow_private: bool, inner: Any = None) -> GuardedHostResolver:
    """Put the guard in front of the reactor's resolver (once per process; the flag follows the
    newest config). Scrapy installs its own resolver only in CrawlerProcess, which the monitor
    does not use, so without this no lookup of a crawl would be checked."""
    from twisted.internet import reactor as installed
    from twisted.internet.interfaces import IResolverSimple
    from zope.interface import classImplements

    classImplements(GuardedHostResolver, IResolverSimple)  # here: Twisted loads only for crawls
    reactor: Any = installed
    current = reactor.resolver
    if isinstance(current, GuardedHostResolver):
        current.allow_private = allow_private
        if inner is not None:
            current.inner = inner
        return current
    guard = GuardedHostResolver(inner if inner is not None else current, allow_private)
    reactor.installResolver(guard)
    return guard


class RetryAfterMiddleware:
    """429/503 are retried after the delay the server asks (Scrapy's own retry does not wait)."""

    def __init__(self, max_retries: int) -> None:
        self.max_retries = max_retries

    @classmethod
    def from_crawler(cls, crawler: Any) -> RetryAfterMiddleware:
        return cls(crawler.settings.getint("RETRY_TIMES"))

    async def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        if response.status not in (429, 503):
            return response
        tries = int(request.meta.get("retry_after_times", 0))
        asked = retry_after(response.headers.get(b"Retry-After"), datetime.now(UTC))
        delay = DEFAULT_RETRY_AFTER if asked is None else asked
        if tries >= self.max_retries or delay > MAX_RETRY_AFTER:
            return response
        await asyncio.sleep(delay.total_seconds())
        retry = request.replace(dont_filter=True)
        retry.meta["retry_after_times"] = tries + 1
        return retry
