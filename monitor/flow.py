"""An article's whole path: fetch → parse → dedup by key → judge → store (dedup by constraint) →
story → outbox. Feeds (refresh_feed) and spiders (crawl_source) meet in ingest().

Reads: feeds over HTTP, pages through the spiders, what storage knows. Writes: articles, tags,
remembered keys, stories and outbox rows in one transaction per batch; feed and source state;
the fetch log. Nothing downstream of ingest() knows where an article came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.article import Article, IngestMode
from monitor.collect import entries
from monitor.collect.canonical import url_hash
from monitor.collect.errors import FetchError
from monitor.collect.parse import FeedParseError, ParsedFeed, parse_new
from monitor.collect.redirects import FetchResult
from monitor.collect.retry import next_attempt
from monitor.config import SourceConfig
from monitor.faults import fail_point
from monitor.reports import CrawlReport, FeedReport, Outcome, SourceReport
from spiders import SPIDER_NAMES
from storage import articles as store
from storage import sources as state
from storage import stories

if TYPE_CHECKING:
    from monitor.app import App

log = logging.getLogger("monitor.refresh")
stored_log = logging.getLogger("monitor.pipeline")  # "article stored": the journal's name for it

MAX_BACKOFF = timedelta(hours=6)


async def refresh_feed(
    app: App,
    source: SourceConfig,
    url: str,
    *,
    force: bool,
    baseline: datetime | None,
    feed: state.FeedState | None = None,
    unchanged: list[tuple[state.Unchanged, dict[str, Any]]] | None = None,
) -> FeedReport:
    """One feed: fetch → parse → ingest; a failure is recorded and backs the feed off. The
    feed's new state and its fetch-log line are one write; given `unchanged`, a 304's are left
    there for the caller to write with the other feeds' (one write for a round of 304s)."""
    started, clock = app.now(), time.monotonic()
    if feed is None:
        feed = await asyncio.to_thread(_feed_state, app, url)
    if feed.suspended_reason is not None:  # until the operator resumes it, even for `poll`
        return FeedReport(url, "suspended", error=f"suspended: {feed.suspended_reason}")
    if not force and feed.next_fetch_at is not None and feed.next_fetch_at > started:
        return FeedReport(url, "backoff", error=f"backing off until {feed.next_fetch_at:%H:%M}Z")
    try:
        fetched = await app.fetcher.get(url, etag=feed.etag, last_modified=feed.last_modified)
        if fetched.not_modified:  # a 304 costs nothing
            report = FeedReport(url, "not_modified", http_status=fetched.status)
            if unchanged is not None and fetched.moved_to == feed.moved_to:
                seen = state.Unchanged(url, started, fetched.status, fetched.etag,
                                       fetched.last_modified)  # fmt: skip
                unchanged.append((seen, _fetch_line(source.id, report, started, clock)))
                _log_line(source.id, report, time.monotonic() - clock)
                return report
        else:  # parse → ingest, in one worker thread: the loop stays free for other feeds
            report = await asyncio.to_thread(
                parse_and_ingest, app, source, url, fetched, started, baseline,
                feed.entry_records,
            )  # fmt: skip
        await asyncio.to_thread(_feed_succeeded, app, source.id, fetched, report, started, clock)
    except (FetchError, FeedParseError) as exc:
        report = _failed(url, exc)
        retry_in = next_attempt(
            timedelta(seconds=source.poll_interval * 0.8), feed.consecutive_failures + 1,
            MAX_BACKOFF, getattr(exc, "retry_after", None),
        )  # fmt: skip
        await asyncio.to_thread(
            _feed_failed, app, source.id, report, started + retry_in, started, clock
        )
        await _suspend_if_dead(app, source, url, exc, feed.consecutive_failures + 1, started)
    except Exception as exc:  # a bug, a locked or full database: this feed's problem only
        log.exception("feed crashed", extra={"source": source.id, "feed": url})
        report = FeedReport(url, "error", error=f"{type(exc).__name__}: {exc}", error_kind="crash")
        with contextlib.suppress(Exception):  # recording may fail for the same reason
            await asyncio.to_thread(_feed_failed, app, source.id, report, started, started, clock)
    _log_line(source.id, report, time.monotonic() - clock)
    return report


def parse_and_ingest(
    app: App,
    source: SourceConfig,
    url: str,
    fetched: FetchResult,
    now: datetime,
    baseline: datetime | None,
    previous: bytes | None = None,
) -> FeedReport:
    """parse → ingest for one fetched feed body. The entries its last body also held are
    recognised before parsing (`previous`: their records), so the cost is what is new."""
    incremental = app.config.fetch.incremental  # off: every body parsed whole
    parsed = parse_new(
        fetched.body, source_id=source.id, feed_url=fetched.url, now=now,
        content_type=fetched.content_type, language=source.language,
        context=app.judge.signature, previous=previous if incremental else None,
    )  # fmt: skip
    if parsed.warning:
        log.info("malformed feed recovered", extra={"feed": url, "detail": parsed.warning})
    outcome = ingest(app, source.id, parsed.articles, now, baseline=baseline)
    seen_again = Counter(r.kind for r in parsed.recognised)
    return FeedReport(
        url, "ok", entries=outcome.entries + parsed.skipped + len(parsed.recognised),
        new=len(outcome.new), duplicate=outcome.duplicate + seen_again[entries.DUPLICATE],
        irrelevant=outcome.irrelevant + seen_again[entries.IRRELEVANT],
        http_status=fetched.status, warning=parsed.warning, newest_at=parsed.newest,
        recognised=len(parsed.recognised), new_articles=outcome.new, enrich=outcome.to_enrich,
        entry_records=_settled(parsed, outcome) if incremental else None,
    )  # fmt: skip


def _settled(parsed: ParsedFeed, outcome: Outcome) -> bytes | None:
    """The records to recognise this body's entries by next time: every entry whose articles
    got their verdict, with what a whole parse would count it as (the first entry with a link
    takes its verdict; a later one with the same link is a repeat)."""
    if parsed.read is None:
        return None
    irrelevant = {entries.short_hash(k) for k in outcome.irrelevant_keys}
    pending = {entries.short_hash(url_hash(url)) for url in outcome.to_enrich}
    records, taken = list(parsed.recognised), {r.key for r in parsed.recognised}
    for record, article in parsed.read:
        if article is not None:
            if record.key in pending:
                continue  # judged on its page later: read it again until then
            first = record.key not in taken
            taken.add(record.key)
            kind = entries.IRRELEVANT if first and record.key in irrelevant else entries.DUPLICATE
            record = replace(record, kind=kind)
        records.append(record)
    return entries.dump(records)


def ingest(
    app: App,
    source_id: str,
    articles: list[Article],
    now: datetime,
    mode: IngestMode = "live",
    *,
    baseline: datetime | None = None,
) -> Outcome:
    """Feeds and spiders both end here: judge what is new, store it, plan its alerts."""
    fail_point("ingest")
    batch = app.judge.keyed(source_id, articles)  # dedup 1: URL keys within the batch
    with app.db.read() as conn:
        known = store.known_keys(conn, source_id, list(batch.keyed), app.judge.rules_hash)
    app.judge.sort(batch, known)  # relevance, sectors, fingerprint — only for unknown keys
    with app.db.write(durable=bool(batch.relevant)) as conn:
        # dedup 2: guid and fingerprint constraints; only the rows really inserted come back.
        if batch.relevant:
            stories.hold_decisions(conn)  # PostgreSQL: one daemon's stories at a time
        new = store.insert_articles(conn, list(batch.relevant.values()), mode)
        # each joins the story it reports across outlets, or starts one: alerts go per story.
        stories.assign(conn, app.stories, new, now)
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
        irrelevant_keys=set(batch.irrelevant) | batch.passed,
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
    baseline: datetime | None = None,
) -> CrawlReport:
    """The source's spider; every article page it parses goes through ingest() at once.
    `baseline`: the pages belong to a source's first collection (news before it: no alerts)."""
    if app.crawler is None:
        raise RuntimeError("this App was opened without spiders")

    def through_flow(articles: list[Article], now: datetime, first: datetime | None) -> Outcome:
        return ingest(app, source.id, articles, now, baseline=baseline or first)

    return await app.crawler.crawl(
        source, through_flow, article_urls=article_urls, max_pages=max_pages
    )


async def refresh_source(app: App, source: SourceConfig, *, force: bool = False) -> SourceReport:
    """Every feed of a source at once (a failing feed never stops the others), then, for
    `enrich: true`, the pages of entries whose feed gives only a short description: new stored
    ones get their full text, plausible ones not relevant on the description are judged on
    their page."""
    baseline, states = await asyncio.to_thread(_source_state, app, source)
    unchanged: list[tuple[state.Unchanged, dict[str, Any]]] = []
    polls = [
        refresh_feed(
            app, source, url, force=force, baseline=baseline, feed=states[url], unchanged=unchanged
        )
        for url in source.feed_urls
    ]
    feeds = await asyncio.gather(*polls)
    if unchanged:
        try:
            await asyncio.to_thread(_record_unchanged, app, unchanged)
        except Exception:  # the next round fetches them again with the old validators
            log.exception("could not record unchanged feeds", extra={"source": source.id})
    report = SourceReport(source.id, list(feeds))
    if baseline is not None and any(f.outcome in ("ok", "not_modified") for f in feeds):
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


def _source_state(
    app: App, source: SourceConfig
) -> tuple[datetime | None, dict[str, state.FeedState]]:
    """In one read: whether the source's first collection is pending, and its feeds' state."""
    with app.db.read() as conn:
        baseline = state.baseline_since(conn, source.id, app.now())
        return baseline, state.feed_states(conn, source.feed_urls)


def _finish_baseline(app: App, source_id: str) -> None:
    with app.db.write() as conn:
        state.finish_baseline(conn, source_id, app.now())


def _record_source(app: App, source_id: str, error: str | None) -> None:
    with app.db.write() as conn:
        state.record_source_poll(conn, source_id, now=app.now(), error=error)


async def _suspend_if_dead(
    app: App,
    source: SourceConfig,
    url: str,
    exc: FetchError | FeedParseError,
    failures: int,
    now: datetime,
) -> None:
    """A feed that is gone (410), or fails the configured number of polls in a row, is not
    fetched again until the operator resumes it; the operator is told once."""
    limit = app.config.fetch.suspend_after_failures
    status = getattr(exc, "status", None)
    if status == 410:
        reason = "HTTP 410 Gone: the outlet removed the feed"
    elif limit and failures >= limit:
        reason = f"{failures} failed polls in a row; last: {exc}"
    else:
        return

    def suspend() -> None:
        with app.db.write() as conn:
            state.suspend_feed(conn, url, now, reason)

    await asyncio.to_thread(suspend)
    log.warning("feed suspended", extra={"source": source.id, "feed": url, "reason": reason})
    await asyncio.to_thread(
        app.dispatcher.tell_operator,
        f"Feed of {source.name} suspended",
        f"{url} is no longer fetched: {reason}.\nFix or remove it in feeds.yaml, then run "
        f"`monitor feeds resume --source {source.id}`.",
    )


def _feed_succeeded(
    app: App, source_id: str, fetched: FetchResult, report: FeedReport, now: datetime, clock: float
) -> None:
    with app.db.write() as conn:
        if state.record_moved(conn, report.url, fetched.moved_to):
            log.warning(
                "feed moved permanently; update feeds.yaml",
                extra={"feed": report.url, "moved_to": fetched.moved_to},
            )
        state.record_feed_success(
            conn, report.url, now=now, http_status=fetched.status,
            not_modified=fetched.not_modified, etag=fetched.etag,
            last_modified=fetched.last_modified, entries=report.entries,
            newest_item_at=report.newest_at, entry_records=report.entry_records,
        )  # fmt: skip
        state.log_fetches(conn, [_fetch_line(source_id, report, now, clock)])


def _feed_failed(
    app: App,
    source_id: str,
    report: FeedReport,
    retry_at: datetime,
    now: datetime,
    clock: float,
) -> None:
    with app.db.write() as conn:
        state.record_feed_failure(
            conn, report.url, now=now, next_fetch_at=retry_at, kind=str(report.error_kind),
            error=report.error or "", http_status=report.http_status,
        )  # fmt: skip
        state.log_fetches(conn, [_fetch_line(source_id, report, now, clock)])


def _record_unchanged(app: App, feeds: list[tuple[state.Unchanged, dict[str, Any]]]) -> None:
    with app.db.write() as conn:
        state.record_not_modified(conn, [seen for seen, _ in feeds])
        state.log_fetches(conn, [line for _, line in feeds])


def _fetch_line(
    source_id: str, report: FeedReport, started: datetime, clock: float
) -> dict[str, Any]:
    """The fetch-log row of a feed fetched since `clock` (time.monotonic())."""
    return {
        "source_id": source_id, "feed_url": report.url, "started_at": started,
        "duration_ms": int((time.monotonic() - clock) * 1000), "outcome": report.outcome,
        "http_status": report.http_status, "entries": report.entries, "new": report.new,
        "duplicate": report.duplicate, "irrelevant": report.irrelevant,
        "error_kind": report.error_kind, "error": report.error,
    }  # fmt: skip


def _log_line(source_id: str, report: FeedReport, seconds: float) -> None:
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
