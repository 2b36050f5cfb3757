"""An article's whole path: fetch → parse → dedup by key → judge → store (dedup by constraint) →
outbox. Feeds (refresh_feed) and spiders (crawl_source) meet in ingest().

Reads: feeds over HTTP, pages through the spiders, what storage knows. Writes: articles, tags,
remembered keys and outbox rows in one transaction per batch; feed and source state; the fetch
log. Nothing downstream of ingest() knows where an article came from.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.article import Article, IngestMode
from monitor.collect.errors import FetchError
from monitor.collect.parse import FeedParseError, parse_feed
from monitor.collect.redirects import FetchResult
from monitor.collect.retry import next_attempt
from monitor.config import SourceConfig
from monitor.reports import CrawlReport, FeedReport, Outcome, SourceReport
from spiders import SPIDER_NAMES
from storage import articles as store
from storage import sources as state

if TYPE_CHECKING:
    from monitor.app import App

log = logging.getLogger("monitor.refresh")
stored_log = logging.getLogger("monitor.pipeline")  # "article stored": the journal's name for it

MAX_BACKOFF = timedelta(hours=6)


async def refresh_feed(
    app: App, source: SourceConfig, url: str, *, force: bool, baseline: bool
) -> FeedReport:
    """One feed: fetch → parse → ingest; a failure is recorded and backs the feed off."""
    started, clock = app.now(), time.monotonic()
    feed = await asyncio.to_thread(_feed_state, app, url)
    if not force and feed.next_fetch_at is not None and feed.next_fetch_at > started:
        return FeedReport(url, "backoff", error=f"backing off until {feed.next_fetch_at:%H:%M}Z")
    try:
        fetched = await app.fetcher.get(url, etag=feed.etag, last_modified=feed.last_modified)
        if fetched.not_modified:  # a 304 costs nothing
            report = FeedReport(url, "not_modified", http_status=fetched.status)
        else:  # parse → ingest, in one worker thread: the loop stays free for other feeds
            report = await asyncio.to_thread(
                parse_and_ingest, app, source, url, fetched, started, baseline
            )
        await asyncio.to_thread(_feed_succeeded, app, url, fetched, started)
    except (FetchError, FeedParseError) as exc:
        report = _failed(url, exc)
        retry_in = next_attempt(
            timedelta(seconds=source.poll_interval * 0.8), feed.consecutive_failures + 1,
            MAX_BACKOFF, getattr(exc, "retry_after", None),
        )  # fmt: skip
        await asyncio.to_thread(_feed_failed, app, url, report, started + retry_in, started)
    await asyncio.to_thread(_log_fetch, app, source.id, report, started, time.monotonic() - clock)
    return report


def parse_and_ingest(
    app: App, source: SourceConfig, url: str, fetched: FetchResult, now: datetime, baseline: bool
) -> FeedReport:
    """parse → ingest for one fetched feed body."""
    parsed = parse_feed(
        fetched.body, source_id=source.id, feed_url=fetched.url, now=now,
        content_type=fetched.content_type, language=source.language,
    )  # fmt: skip
    if parsed.warning:
        log.info("malformed feed recovered", extra={"feed": url, "detail": parsed.warning})
    outcome = ingest(app, source.id, parsed.articles, now, baseline=baseline)
    return FeedReport(
        url, "ok", entries=outcome.entries + parsed.skipped, new=len(outcome.new),
        duplicate=outcome.duplicate, irrelevant=outcome.irrelevant, http_status=fetched.status,
        warning=parsed.warning, new_articles=outcome.new, enrich=outcome.to_enrich,
    )  # fmt: skip


def ingest(
    app: App,
    source_id: str,
    articles: list[Article],
    now: datetime,
    mode: IngestMode = "live",
    *,
    baseline: bool = False,
) -> Outcome:
    """Feeds and spiders both end here: judge what is new, store it, plan its alerts."""
    batch = app.judge.keyed(source_id, articles)  # dedup 1: URL keys within the batch
    with app.db.read() as conn:
        known = store.known_keys(conn, source_id, list(batch.keyed), app.judge.rules_hash)
    app.judge.sort(batch, known)  # relevance, sectors, fingerprint — only for unknown keys
    with app.db.write() as conn:
        # dedup 2: guid and fingerprint constraints; only the rows really inserted come back.
        new = store.insert_articles(conn, list(batch.relevant.values()), mode)
        # the outbox rows commit together with the articles, or not at all.
        app.alerts.plan(conn, new, now, baseline=baseline, ingest_mode=mode)
        inserted = {id(article) for _, article in new}
        same_story = [k for k, a in batch.relevant.items() if id(a) not in inserted]
        store.remember(conn, source_id, same_story, "duplicate", None, now)
        full = [k for k in batch.irrelevant if batch.keyed[k].text]
        store.remember(
            conn, source_id, batch.irrelevant, "irrelevant", app.judge.rules_hash, now, full
        )
        for row_id, article in batch.fuller:
            store.update_text(conn, row_id, article, now)
    if mode == "live":  # a backfill would flood the journal with old news
        for row_id, article in new:
            stored_log.info(
                "article stored",
                extra={"source": source_id, "id": row_id, "title": article.title,
                       "url": article.url},
            )  # fmt: skip
    return Outcome(
        entries=batch.entries,
        new=new,
        duplicate=batch.duplicate + len(same_story),
        irrelevant=batch.skipped + len(batch.irrelevant) + len(batch.enrich),
        updated=len(batch.fuller),
        to_enrich=batch.enrich,
    )


def preview(app: App, source_id: str, articles: list[Article]) -> Outcome:
    """What ingest() would do with a batch, writing nothing (dry runs). An article that turns
    out to be a stored story under another key is only found out by the insert itself."""
    batch = app.judge.keyed(source_id, articles)
    with app.db.read() as conn:
        known = store.known_keys(conn, source_id, list(batch.keyed), app.judge.rules_hash)
    app.judge.sort(batch, known)
    return Outcome(
        entries=batch.entries,
        new=[(0, article) for article in batch.relevant.values()],
        duplicate=batch.duplicate,
        irrelevant=batch.skipped + len(batch.irrelevant) + len(batch.enrich),
        updated=len(batch.fuller),
    )


async def crawl_source(
    app: App,
    source: SourceConfig,
    *,
    article_urls: list[str] | None = None,
    max_pages: int = 1,
    baseline: bool = False,
) -> CrawlReport:
    """The source's spider; every article page it parses goes through ingest() at once.
    `baseline`: the pages belong to a source's first collection (no alerts)."""
    if app.crawler is None:
        raise RuntimeError("this App was opened without spiders")

    def through_flow(articles: list[Article], now: datetime, first: bool) -> Outcome:
        return ingest(app, source.id, articles, now, baseline=baseline or first)

    return await app.crawler.crawl(
        source, through_flow, article_urls=article_urls, max_pages=max_pages
    )


async def refresh_source(app: App, source: SourceConfig, *, force: bool = False) -> SourceReport:
    """Every feed of a source at once (a failing feed never stops the others), then, for
    `enrich: true`, the pages of entries whose feed gives only a short description: new stored
    ones get their full text, plausible ones not relevant on the description are judged on
    their page."""
    baseline = await asyncio.to_thread(_baseline_pending, app, source.id)
    feeds = await asyncio.gather(
        *(
            refresh_feed(app, source, url, force=force, baseline=baseline)
            for url in source.feed_urls
        )
    )
    report = SourceReport(source.id, list(feeds))
    if baseline and any(f.outcome in ("ok", "not_modified") for f in feeds):
        # The first collection only records what exists; alerts start from the next one.
        await asyncio.to_thread(_finish_baseline, app, source.id)
    if source.enrich and app.crawler is not None and source.id in SPIDER_NAMES:
        short = [a.url for f in feeds for _, a in f.new_articles if not a.text]
        short += [url for f in feeds for url in f.enrich]
        if short:
            urls = list(dict.fromkeys(short))  # one entry may sit in several of the feeds
            pages = await crawl_source(app, source, article_urls=urls, baseline=baseline)
            report.enriched, report.found_on_page = pages.updated, pages.new
    if any(f.outcome != "backoff" for f in feeds):
        await asyncio.to_thread(_record_source, app, source.id, report.error)
    return report


# --- state around the flow: one small write each -------------------------------------------


def _failed(url: str, exc: FetchError | FeedParseError) -> FeedReport:
    if isinstance(exc, FetchError):
        return FeedReport(url, "error", http_status=exc.status, error=str(exc), error_kind=exc.kind)
    return FeedReport(url, "error", http_status=200, error=str(exc), error_kind="parse")


def _feed_state(app: App, url: str) -> state.FeedState:
    with app.db.read() as conn:
        return state.feed_state(conn, url)


def _baseline_pending(app: App, source_id: str) -> bool:
    with app.db.read() as conn:
        return state.baseline_pending(conn, source_id)


def _finish_baseline(app: App, source_id: str) -> None:
    with app.db.write() as conn:
        state.finish_baseline(conn, source_id, app.now())


def _record_source(app: App, source_id: str, error: str | None) -> None:
    with app.db.write() as conn:
        state.record_source_poll(conn, source_id, now=app.now(), error=error)


def _feed_succeeded(app: App, url: str, fetched: FetchResult, now: datetime) -> None:
    with app.db.write() as conn:
        state.record_feed_success(
            conn, url, now=now, http_status=fetched.status, not_modified=fetched.not_modified,
            etag=fetched.etag, last_modified=fetched.last_modified,
        )  # fmt: skip


def _feed_failed(app: App, url: str, report: FeedReport, retry_at: datetime, now: datetime) -> None:
    with app.db.write() as conn:
        state.record_feed_failure(
            conn, url, now=now, next_fetch_at=retry_at, kind=str(report.error_kind),
            error=report.error or "", http_status=report.http_status,
        )  # fmt: skip


def _log_fetch(
    app: App, source_id: str, report: FeedReport, started: datetime, seconds: float
) -> None:
    with app.db.write() as conn:
        state.log_fetch(
            conn, source_id=source_id, feed_url=report.url, started_at=started,
            duration_ms=int(seconds * 1000), outcome=report.outcome,
            http_status=report.http_status, entries=report.entries, new=report.new,
            duplicate=report.duplicate, irrelevant=report.irrelevant,
            error_kind=report.error_kind, error=report.error,
        )  # fmt: skip
    fields = {
        "source": source_id, "feed": report.url, "outcome": report.outcome,
        "entries": report.entries, "new": report.new, "duplicate": report.duplicate,
        "irrelevant": report.irrelevant, "ms": int(seconds * 1000),
    }  # fmt: skip
    if report.outcome == "error":
        log.warning(
            "feed failed", extra={**fields, "kind": report.error_kind, "error": report.error}
        )
    else:
        log.info("feed polled", extra=fields)
