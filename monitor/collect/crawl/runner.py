"""Runs an outlet's Scrapy spider in this process and reports what the crawl saw and stored.

Reads: the source config, the spiders, known keys in storage. Writes: articles (through the
ingest function the caller gives, one page at a time) and one crawl_run row per crawl (counts,
layout problems). Scrapy runs on the asyncio reactor that also drives the daemon's loop, so a
crawl never blocks feed polls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.article import Article
from monitor.clock import Clock
from monitor.collect.canonical import url_hash
from monitor.collect.crawl.failures import CrawlProblem, crawl_problem
from monitor.collect.crawl.items import SINK
from monitor.collect.crawl.middleware import install_guard
from monitor.collect.crawl.settings import scrapy_settings
from monitor.config import Config, SourceConfig
from monitor.reports import CrawlReport, Outcome
from monitor.runtime import install_reactor
from storage import articles as store
from storage import crawls, sources
from storage.db import Database

if TYPE_CHECKING:
    from spiders.history import Walk

log = logging.getLogger("monitor.crawl")

# flow.ingest for one source: (articles, now, baseline) → what happened to them.
Ingest = Callable[[list[Article], datetime, datetime | None], Outcome]


class CrawlRunner:
    """Runs spiders on the shared reactor; each crawl gets a fresh Crawler (they are single-use)."""

    def __init__(
        self,
        config: Config,
        db: Database,
        rules_hash: str,
        *,
        now: Clock,
        download_delay: float | None = None,
        history: bool = False,
    ) -> None:
        install_reactor()
        from scrapy.crawler import AsyncCrawlerRunner

        install_guard(config.fetch.allow_private_networks)
        self.config = config
        self.db = db
        self.rules_hash = rules_hash
        self.now = now
        settings = scrapy_settings(config, download_delay=download_delay)
        if history:
            settings["CLOSESPIDER_TIMEOUT"] = 0  # a backfill is long on purpose; Ctrl-C stops it
        self.runner = AsyncCrawlerRunner(settings)

    async def crawl(
        self,
        source: SourceConfig,
        ingest: Ingest,
        *,
        article_urls: list[str] | None = None,
        max_pages: int = 1,
    ) -> CrawlReport:
        """One crawl of a source's listing pages (or only `article_urls`) through `ingest`."""
        from spiders import SPIDERS

        started = self.now()
        clock = time.monotonic()
        with self.db.read() as conn:
            first = article_urls is None and not crawls.has_crawled(conn, source.id)
            # A source's first crawl records what it holds: like a first poll, a baseline.
            baseline = sources.added_at(conn, source.id, started) if first else None
        outcome = Outcome()
        one_at_a_time = asyncio.Lock()

        async def sink(article: Article) -> None:
            async with one_at_a_time:  # one writer per crawl: pages are stored in the order read
                outcome.add(await asyncio.to_thread(ingest, [article], started, baseline))

        crawler = self.runner.create_crawler(SPIDERS[source.id])
        crawler.settings.set(SINK, sink, priority="cmdline")
        kwargs: dict[str, Any] = {
            "source": source,
            "now": started,
            "max_pages": max_pages,
            "extract_budget": self.config.crawl.extract_timeout,
        }
        if article_urls is not None:
            kwargs["article_urls"] = article_urls
        else:
            kwargs["skip_urls"] = self._skip_function(source)
        await self.runner.crawl(crawler, **kwargs)
        report = self._report(source, crawler, started, clock, outcome, article_urls)
        await asyncio.to_thread(self._record, report)
        await asyncio.to_thread(self._remember_refused, source, crawler.spider)
        level = logging.WARNING if report.problem else logging.INFO
        fields = {k: v for k, v in report.to_json().items() if k != "source"}
        log.log(level, "crawl finished", extra={"source": source.id, **fields})
        return report

    async def walk(self, source: SourceConfig, walk: Walk) -> str | None:
        """A history walk (backfill): the walk stores each page itself; returns any layout
        problem the spider saw."""
        from spiders import SPIDERS

        crawler = self.runner.create_crawler(SPIDERS[source.id])
        await self.runner.crawl(
            crawler, source=source, now=self.now(), walk=walk,
            extract_budget=self.config.crawl.extract_timeout,
        )  # fmt: skip
        await asyncio.to_thread(self._remember_refused, source, crawler.spider)
        layout = getattr(crawler.spider, "layout_problem", None)
        problem = layout() if callable(layout) else None
        return problem if isinstance(problem, str) else None

    def _report(
        self,
        source: SourceConfig,
        crawler: Any,
        started: datetime,
        clock: float,
        outcome: Outcome,
        article_urls: list[str] | None,
    ) -> CrawlReport:
        health = getattr(crawler.spider, "health", None)
        stats = crawler.stats.get_stats() if crawler.stats else {}
        problem = self._problem(crawler.spider, article_urls, stats)
        return CrawlReport(
            source=source.id,
            started_at=started,
            seconds=round(time.monotonic() - clock, 3),
            listing_pages=getattr(health, "listing_pages", 0),
            article_links=getattr(health, "article_links", 0),
            articles=outcome.entries,
            new=len(outcome.new),
            updated=outcome.updated,
            duplicate=outcome.duplicate,
            irrelevant=outcome.irrelevant,
            responses=int(stats.get("response_received_count", 0)),
            errors=int(stats.get("log_count/ERROR", 0))
            + int(stats.get("downloader/exception_count", 0)),
            finish_reason=stats.get("finish_reason"),
            problem=problem.text if problem else None,
            problem_kind=problem.kind if problem else None,
        )

    def _problem(
        self, spider: Any, article_urls: list[str] | None, stats: dict[str, Any]
    ) -> CrawlProblem | None:
        if article_urls is not None:
            return None  # an enrichment fetch has no listing pages to judge the layout by
        health = getattr(spider, "health", None)
        if health is not None:
            # Failed requests first: a listing answered by 503s or a challenge is not a layout.
            failed = crawl_problem(spider.name, health)
            if failed is not None:
                return failed
        layout = getattr(spider, "layout_problem", None)
        problem = layout() if callable(layout) else None
        if problem is not None:
            return CrawlProblem("layout", problem)
        # robots.txt is a response too: only a parsed listing page counts as fetched.
        if not getattr(health, "listing_pages", 0):
            return CrawlProblem(
                "unreachable", "no listing page could be fetched (see the fetch errors in the log)"
            )
        return None

    def _skip_function(self, source: SourceConfig) -> Callable[[list[str]], set[str]]:
        """Of a listing page's article URLs, those the spider need not fetch: already known with
        full text (the spider checks exclude_urls itself)."""

        def skip(urls: list[str]) -> set[str]:
            keys = {url: url_hash(url) for url in urls}
            with self.db.read() as conn:
                known = store.settled(conn, source.id, list(set(keys.values())), self.rules_hash)
            return {url for url, key in keys.items() if key in known}

        return skip

    def _remember_refused(self, source: SourceConfig, spider: Any) -> None:
        """Pages refused as pathological are never fetched again (they would be, every crawl)."""
        refused = list(getattr(getattr(spider, "health", None), "refused", []))
        if refused:
            with self.db.write() as conn:
                keys = [url_hash(url) for url in refused]
                store.remember(conn, source.id, keys, "refused", None, self.now())

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
                problem_kind=report.problem_kind,
            )

    async def stop(self) -> None:
        await self.runner.stop()
