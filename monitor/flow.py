"""Refresh: one source's feeds fetched, parsed and sent down the pipeline; failures back off.

Reads: feed URLs over HTTP and per-feed state. Writes: articles (via the pipeline), feed and
source state, and one fetch_log row per feed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.article import Article
from monitor.collect.crawl import CrawlRunner
from monitor.collect.fetch import Fetcher, FetchError, FetchResult, FetchSettings
from monitor.collect.parse import FeedParseError, parse_feed
from monitor.config import Config, SourceConfig
from monitor.judge.pipeline import Outcome, Pipeline
from spiders import SPIDER_NAMES
from storage import sources as state
from storage.db import Database

log = logging.getLogger("monitor.refresh")

MAX_BACKOFF = timedelta(hours=6)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class FeedReport:
    url: str
    outcome: str  # ok | not_modified | error | backoff
    entries: int = 0
    new: int = 0
    duplicate: int = 0
    irrelevant: int = 0
    http_status: int | None = None
    error: str | None = None
    error_kind: str | None = None
    warning: str | None = None
    new_articles: list[tuple[int, Article]] = field(default_factory=list, repr=False)


@dataclass
class SourceReport:
    source: str
    feeds: list[FeedReport] = field(default_factory=list)
    enriched: int = 0  # new articles whose page gave a fuller text

    def total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.feeds)

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.feeds if f.outcome == outcome)

    @property
    def error(self) -> str | None:
        errors = [f"{f.url}: {f.error}" for f in self.feeds if f.outcome == "error"]
        return "; ".join(errors) if errors else None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "fetched": self.count("ok"),
            "not_modified": self.count("not_modified"),
            "backing_off": self.count("backoff"),
            "entries": self.total("entries"),
            "new": self.total("new"),
            "duplicate": self.total("duplicate"),
            "irrelevant": self.total("irrelevant"),
            "errors": self.count("error"),
            "enriched": self.enriched,
            "error": self.error,
            "feeds": [
                {f.name: getattr(feed, f.name) for f in fields(feed) if f.name != "new_articles"}
                for feed in self.feeds
            ],
        }


def fetch_settings(config: Config) -> FetchSettings:
    f = config.fetch
    return FetchSettings(
        user_agent=f.user_agent,
        connect_timeout=f.connect_timeout,
        read_timeout=f.read_timeout,
        total_timeout=f.total_timeout,
        max_bytes=f.max_bytes,
        max_redirects=f.max_redirects,
        allow_private_networks=f.allow_private_networks,
        concurrency=f.concurrency,
        per_host_concurrency=f.per_host_concurrency,
    )


class Refresher:
    """Holds what every refresh needs: config, database, compiled pipeline, HTTP client, clock."""

    def __init__(
        self,
        config: Config,
        db: Database,
        fetcher: Fetcher,
        *,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.db = db
        self.fetcher = fetcher
        self.pipeline = Pipeline(config, db)
        self.now = now
        # Set when spiders are available: used to enrich feed entries that have only a description.
        self.crawler: CrawlRunner | None = None

    def sync_sources(self) -> None:
        with self.db.write() as conn:
            state.sync_sources(conn, [(s.id, s.name, s.feed_urls) for s in self.config.sources])

    async def refresh_source(self, source: SourceConfig, *, force: bool = False) -> SourceReport:
        """Fetch every feed of a source concurrently; a failing feed never stops the others."""
        with self.db.read() as conn:
            baseline = state.baseline_pending(conn, source.id)
        reports = await asyncio.gather(
            *(
                self.refresh_feed(source, url, force=force, baseline=baseline)
                for url in source.feed_urls
            )
        )
        report = SourceReport(source.id, list(reports))
        if baseline and any(r.outcome in ("ok", "not_modified") for r in reports):
            # The first collection only records what exists; alerts start from the next one.
            await asyncio.to_thread(self._finish_baseline, source.id)
        if source.enrich and self.crawler is not None and source.id in SPIDER_NAMES:
            short = [a.url for f in reports for _, a in f.new_articles if not a.text]
            if short:
                enriched = await self.crawler.crawl(source, article_urls=short)
                report.enriched = enriched.updated
        if any(r.outcome != "backoff" for r in reports):
            await asyncio.to_thread(self._record_source, source.id, report.error)
        return report

    def _finish_baseline(self, source_id: str) -> None:
        with self.db.write() as conn:
            state.finish_baseline(conn, source_id, self.now())

    def _record_source(self, source_id: str, error: str | None) -> None:
        with self.db.write() as conn:
            state.record_source_poll(conn, source_id, now=self.now(), error=error)

    async def refresh_feed(
        self, source: SourceConfig, url: str, *, force: bool, baseline: bool = False
    ) -> FeedReport:
        """fetch → parse → pipeline (relevance → dedup → tag → store) for one feed URL."""
        started = self.now()
        clock = time.monotonic()
        with self.db.read() as conn:
            feed = state.feed_state(conn, url)
        if not force and feed.next_fetch_at is not None and feed.next_fetch_at > started:
            return FeedReport(
                url, "backoff", error=f"backing off until {feed.next_fetch_at:%H:%M}Z"
            )
        try:
            result = await self.fetcher.get(url, etag=feed.etag, last_modified=feed.last_modified)
            if result.not_modified:
                report = FeedReport(url, "not_modified", http_status=result.status)
            else:
                report = await asyncio.to_thread(
                    self._ingest, source, url, result, started, baseline
                )
            await asyncio.to_thread(self._record_success, url, result, started)
        except FetchError as exc:
            report = FeedReport(
                url, "error", http_status=exc.status, error=str(exc), error_kind=exc.kind
            )
            await asyncio.to_thread(
                self._record_failure, source, url, feed.consecutive_failures + 1, exc, started
            )
        except FeedParseError as exc:
            report = FeedReport(url, "error", http_status=200, error=str(exc), error_kind="parse")
            await asyncio.to_thread(
                self._record_failure, source, url, feed.consecutive_failures + 1, exc, started
            )
        await asyncio.to_thread(self._log, source.id, report, started, time.monotonic() - clock)
        return report

    def _ingest(
        self, source: SourceConfig, url: str, result: FetchResult, now: datetime, baseline: bool
    ) -> FeedReport:
        parsed = parse_feed(
            result.body,
            source_id=source.id,
            feed_url=result.url,
            now=now,
            content_type=result.content_type,
            language=source.language,
        )
        outcome: Outcome = self.pipeline.process(source.id, parsed.articles, now, baseline=baseline)
        if parsed.warning:
            log.info("malformed feed recovered", extra={"feed": url, "detail": parsed.warning})
        return FeedReport(
            url,
            "ok",
            entries=outcome.entries + parsed.skipped,
            new=len(outcome.new),
            duplicate=outcome.duplicate,
            irrelevant=outcome.irrelevant,
            http_status=result.status,
            warning=parsed.warning,
            new_articles=outcome.new,
        )

    def _record_success(self, url: str, result: FetchResult, now: datetime) -> None:
        with self.db.write() as conn:
            state.record_feed_success(
                conn,
                url,
                now=now,
                http_status=result.status,
                not_modified=result.not_modified,
                etag=result.etag,
                last_modified=result.last_modified,
            )

    def _record_failure(
        self,
        source: SourceConfig,
        url: str,
        failures: int,
        exc: FetchError | FeedParseError,
        now: datetime,
    ) -> None:
        retry_after = getattr(exc, "retry_after", None)
        with self.db.write() as conn:
            state.record_feed_failure(
                conn,
                url,
                now=now,
                next_fetch_at=now + backoff(source.poll_interval, failures, retry_after),
                kind=getattr(exc, "kind", "parse"),
                error=str(exc),
                http_status=getattr(exc, "status", None),
            )

    def _log(self, source_id: str, report: FeedReport, started: datetime, seconds: float) -> None:
        with self.db.write() as conn:
            state.log_fetch(
                conn,
                source_id=source_id,
                feed_url=report.url,
                started_at=started,
                duration_ms=int(seconds * 1000),
                outcome=report.outcome,
                http_status=report.http_status,
                entries=report.entries,
                new=report.new,
                duplicate=report.duplicate,
                irrelevant=report.irrelevant,
                error_kind=report.error_kind,
                error=report.error,
            )
        fields = {
            "source": source_id,
            "feed": report.url,
            "outcome": report.outcome,
            "entries": report.entries,
            "new": report.new,
            "duplicate": report.duplicate,
            "irrelevant": report.irrelevant,
            "ms": int(seconds * 1000),
        }
        if report.outcome == "error":
            log.warning(
                "feed failed", extra={**fields, "kind": report.error_kind, "error": report.error}
            )
        else:
            log.info("feed polled", extra=fields)


def backoff(interval: float, failures: int, retry_after: float | None) -> timedelta:
    """Delay before a failing feed is fetched again: doubles per failure, capped, Retry-After wins.

    The first failure waits one ordinary interval (minus slack so scheduler jitter does not make
    the next regular poll skip it).
    """
    delay = timedelta(seconds=interval * 0.8 * 2 ** max(failures - 1, 0))
    delay = min(delay, MAX_BACKOFF)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay
