"""Scrapy components of every crawl: the private-network guard on requests and DNS answers,
and retries of 429/503 after the delay the server asks for.

Reads: requests, responses and DNS answers of a crawl. Writes: nothing.
"""

from __future__ import annotations

import asyncio
import functools
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
    """Refuses non-http(s) URLs and literal private addresses on every request and redirect hop;
    GuardedResolver covers hostnames that resolve to private addresses."""

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


@functools.cache
def _guarded_resolver_class() -> type:
    from scrapy.resolver import CachingThreadedResolver
    from twisted.internet.error import DNSLookupError

    class _Guarded(CachingThreadedResolver):
        allow_private = False

        @classmethod
        def from_crawler(cls, crawler: Any, reactor: Any) -> Any:
            resolver = super().from_crawler(crawler, reactor)
            resolver.allow_private = crawler.settings.getbool("MONITOR_ALLOW_PRIVATE_NETWORKS")
            return resolver

        def getHostByName(self, name: str, timeout: Any = ()) -> Any:
            d = super().getHostByName(name, timeout)

            def check(address: str) -> str:
                if not self.allow_private and not is_public_ip(ipaddress.ip_address(address)):
                    raise DNSLookupError(f"blocked host {name!r} ({address}): not a public address")
                return address

            d.addCallback(check)
            return d

    return _Guarded


def __getattr__(name: str) -> Any:
    # Scrapy loads the resolver by dotted path; building it lazily keeps twisted.internet.reactor
    # unimported until install_reactor() has run.
    if name == "GuardedResolver":
        return _guarded_resolver_class()
    raise AttributeError(name)


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
