"""Crawl: runs an outlet's Scrapy spider in this process; its articles go down the pipeline.

Reads: the source config, the spiders, known keys in storage. Writes: articles (via the
pipeline) and one crawl_run row per crawl (counts, layout problems). Scrapy runs on the asyncio
reactor that also drives the daemon's loop, so a crawl never blocks feed polls.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from monitor.article import Article
from monitor.collect.canonical import url_hash
from monitor.collect.netguard import BlockedURL, check_url, is_public_ip
from monitor.config import Config, SourceConfig
from monitor.judge.pipeline import Outcome, Pipeline
from storage import articles as store
from storage import crawls
from storage.db import Database

log = logging.getLogger("monitor.crawl")

T = TypeVar("T")
REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
MAX_RETRY_AFTER = 300.0  # seconds a crawl will wait for a 429/503 before giving up on that page


def install_reactor() -> None:
    """Twisted's asyncio reactor; must happen before anything imports twisted.internet.reactor."""
    from scrapy.utils.reactor import install_reactor as scrapy_install
    from scrapy.utils.reactor import is_reactor_installed

    if not is_reactor_installed():
        scrapy_install(REACTOR)


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on the asyncio loop driven by Twisted's reactor (asyncio.run() would not
    drive Scrapy's downloads: with the reactor installed they silently never complete)."""
    install_reactor()
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet import reactor as installed
    from twisted.python.failure import Failure

    reactor: Any = installed  # Twisted types the module as a bare interface

    outcome: list[Any] = []

    def start() -> None:
        d = deferred_from_coro(main())
        d.addBoth(finish)

    def finish(result: Any) -> None:
        outcome.append(result)
        reactor.stop()

    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    if not outcome:
        raise RuntimeError("the event loop stopped before the command finished")
    result = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result  # type: ignore[no-any-return]


def scrapy_settings(config: Config, *, download_delay: float | None = None) -> dict[str, Any]:
    """Polite, safe settings for every crawl: robots.txt, AutoThrottle, caps, guard, no consoles."""
    fetch = config.fetch
    delay = config.crawl.download_delay if download_delay is None else download_delay
    return {
        "BOT_NAME": "india-japan-monitor",
        "USER_AGENT": fetch.user_agent,
        "ROBOTSTXT_OBEY": True,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": delay,
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "DOWNLOAD_DELAY": delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,
        "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": config.crawl.per_domain_concurrency,
        "CONCURRENT_ITEMS": 8,  # the default of 100 costs ~1 ms of task churn per response
        "DOWNLOAD_MAXSIZE": config.crawl.max_page_bytes,
        "DOWNLOAD_WARNSIZE": min(config.crawl.max_page_bytes, 2 * 1024 * 1024),
        "DOWNLOAD_TIMEOUT": int(fetch.total_timeout),
        "DNS_TIMEOUT": int(fetch.connect_timeout),
        "REDIRECT_MAX_TIMES": fetch.max_redirects,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 2,
        # 429 and 503 are retried by RetryAfterMiddleware, which waits as the server asks.
        "RETRY_HTTP_CODES": [500, 502, 504, 522, 524, 408],
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,  # 2.19 runs a code-executing localhost server otherwise
        "DOWNLOAD_HANDLERS": {"file": None, "data": None, "ftp": None, "s3": None},
        "DNS_RESOLVER": "monitor.collect.crawl.GuardedResolver",
        "TWISTED_DNS_RESOLVER": "monitor.collect.crawl.GuardedResolver",
        "MONITOR_ALLOW_PRIVATE_NETWORKS": fetch.allow_private_networks,
        "DOWNLOADER_MIDDLEWARES": {
            "monitor.collect.crawl.NetGuardMiddleware": 50,
            "monitor.collect.crawl.RetryAfterMiddleware": 540,
        },
        "CLOSESPIDER_TIMEOUT": config.crawl.timeout,
        "LOG_ENABLED": False,  # crawl outcomes are logged by this module, one line per crawl
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        "MEMUSAGE_ENABLED": False,  # the daemon's memory is bounded by systemd, not per crawl
    }


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
                import ipaddress

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
        delay = retry_after_seconds(response.headers.get(b"Retry-After"))
        if tries >= self.max_retries or delay > MAX_RETRY_AFTER:
            return response
        await asyncio.sleep(delay)
        retry = request.replace(dont_filter=True)
        retry.meta["retry_after_times"] = tries + 1
        return retry


def retry_after_seconds(value: bytes | None, default: float = 5.0) -> float:
    """Retry-After as delta-seconds or an HTTP date; a missing or odd value waits `default`."""
    if not value:
        return default
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


@dataclass
class CrawlReport:
    source: str
    started_at: datetime
    seconds: float = 0.0
    listing_pages: int = 0
    article_links: int = 0
    articles: int = 0
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    irrelevant: int = 0
    responses: int = 0
    errors: int = 0
    finish_reason: str | None = None
    problem: str | None = None
    new_ids: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat().replace("+00:00", "Z")
        return data


class CrawlRunner:
    """Runs spiders on the shared reactor; each crawl gets a fresh Crawler (they are single-use)."""

    def __init__(
        self,
        config: Config,
        db: Database,
        pipeline: Pipeline,
        *,
        now: Callable[[], datetime],
        download_delay: float | None = None,
    ) -> None:
        install_reactor()
        from scrapy.crawler import AsyncCrawlerRunner

        self.config = config
        self.db = db
        self.pipeline = pipeline
        self.now = now
        self.runner = AsyncCrawlerRunner(scrapy_settings(config, download_delay=download_delay))

    async def crawl(
        self,
        source: SourceConfig,
        *,
        article_urls: list[str] | None = None,
        max_pages: int = 1,
        ingest_mode: str = "live",
    ) -> CrawlReport:
        """One crawl of a source's listing pages (or only `article_urls`) through the pipeline."""
        from scrapy import signals

        from spiders import SPIDERS

        spider_cls = SPIDERS[source.id]
        started = self.now()
        clock = time.monotonic()
        items: list[Article] = []

        def collect(item: Any, response: Any = None, spider: Any = None) -> None:
            if isinstance(item, Article):
                items.append(item)

        crawler = self.runner.create_crawler(spider_cls)
        crawler.signals.connect(collect, signal=signals.item_scraped, weak=False)
        skip = self._skip_function(source)
        kwargs: dict[str, Any] = {"source": source, "now": started, "max_pages": max_pages}
        if article_urls is not None:
            kwargs["article_urls"] = article_urls
        else:
            kwargs["skip_urls"] = skip
        with self.db.read() as conn:
            baseline = article_urls is None and not crawls.has_crawled(conn, source.id)
        await self.runner.crawl(crawler, **kwargs)
        outcome: Outcome = await asyncio.to_thread(
            functools.partial(
                self.pipeline.process, source.id, items, started, ingest_mode, baseline=baseline
            )
        )
        spider = crawler.spider
        health = getattr(spider, "health", None)
        stats = crawler.stats.get_stats() if crawler.stats else {}
        report = CrawlReport(
            source=source.id,
            started_at=started,
            seconds=round(time.monotonic() - clock, 3),
            listing_pages=getattr(health, "listing_pages", 0),
            article_links=getattr(health, "article_links", 0),
            articles=len(items),
            new=len(outcome.new),
            updated=outcome.updated,
            duplicate=outcome.duplicate,
            irrelevant=outcome.irrelevant,
            responses=int(stats.get("response_received_count", 0)),
            errors=int(stats.get("log_count/ERROR", 0))
            + int(stats.get("downloader/exception_count", 0)),
            finish_reason=stats.get("finish_reason"),
            problem=self._problem(spider, article_urls, stats),
            new_ids=[row_id for row_id, _ in outcome.new],
        )
        await asyncio.to_thread(self._record, report)
        level = logging.WARNING if report.problem else logging.INFO
        fields = {k: v for k, v in report.to_json().items() if k not in ("new_ids", "source")}
        log.log(level, "crawl finished", extra={"source": source.id, **fields})
        return report

    def _problem(
        self, spider: Any, article_urls: list[str] | None, stats: dict[str, Any]
    ) -> str | None:
        if article_urls is not None:
            return None  # an enrichment fetch has no listing pages to judge the layout by
        layout = getattr(spider, "layout_problem", None)
        problem = layout() if callable(layout) else None
        if problem is None and int(stats.get("response_received_count", 0)) == 0:
            return "no page could be fetched (see the fetch errors in the log)"
        return problem

    def _skip_function(self, source: SourceConfig) -> Callable[[list[str]], set[str]]:
        """Of a listing page's article URLs, those the spider need not fetch: already known with
        full text (the spider checks exclude_urls itself)."""
        rules_hash = self.pipeline.rules_hash

        def skip(urls: list[str]) -> set[str]:
            keys = {url: url_hash(url) for url in urls}
            with self.db.read() as conn:
                known = store.settled(conn, source.id, list(set(keys.values())), rules_hash)
            return {url for url, key in keys.items() if key in known}

        return skip

    def _record(self, report: CrawlReport) -> None:
        with self.db.write() as conn:
            crawls.record_crawl(
                conn,
                source_id=report.source,
                started_at=report.started_at,
                duration_ms=int(report.seconds * 1000),
                listing_pages=report.listing_pages,
                article_links=report.article_links,
                articles=report.articles,
                new=report.new,
                updated=report.updated,
                responses=report.responses,
                errors=report.errors,
                finish_reason=report.finish_reason,
                problem=report.problem,
            )

    async def stop(self) -> None:
        await self.runner.stop()
