"""Source health: each source's state for `monitor status`, and the state the operator hears about.

Reads: the config, source and feed state, crawl runs and article times (storage). Writes:
nothing; monitor/health_report.py records changes and tells the operator.

Two judgements, on purpose different:
- `state` (shown by `monitor status`) reacts at once: one failed poll makes a source "failing".
- `alarm` (reported to the operator) waits until a problem persists, so a blip costs nobody a
  message: failing / unreachable / blocked feeds for FAILING_POLLS polls in a row and at least
  FAILING_FOR; a crawl problem (failing, unreachable, blocked, extraction broken) in the last
  BROKEN_CRAWLS crawls; stale and silent as below. Otherwise "ok".

A failure is named for what happened: "failing" (HTTP errors, not a feed), "unreachable" (no
connection: DNS, connect, timeout, TLS), "blocked" (a bot-protection challenge or robots.txt;
never bypassed), "extraction broken" (listing pages read, but their layout gave nothing).

Stale: a feed that answers but whose newest item is older than the source's `stale_after`
(default: its silent_after below): a dead feed and a live one both answer 200.

Silent: no new live article for longer than silent_after(), computed from the source's own rhythm
(the median gap between the publication times of its newest articles) rather than one number for
every outlet, because the outlets publish India–Japan pieces at very different rates.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection

from monitor.config import Config, SourceConfig
from spiders import SPIDER_NAMES
from storage import crawls
from storage import health as store
from storage import sources as state_store
from storage.sources import SourceStatus

FAILING_POLLS = 3  # consecutive failed polls before the operator is told ...
FAILING_FOR = timedelta(hours=1)  # ... and at least this long without a successful poll
BROKEN_CRAWLS = 2  # consecutive crawls with a problem before the operator is told

SILENT_FACTOR = 6  # silent after this many median gaps: ~1.5 % false alarms for random arrivals
SILENT_FLOOR = timedelta(days=3)  # never sooner: weekends and holidays are quiet everywhere
SILENT_CAP = timedelta(days=30)  # never later: even a slow source is checked monthly
SILENT_UNKNOWN = timedelta(days=7)  # rhythm not known yet (fewer than RHYTHM_MIN articles)
RHYTHM_MIN = 6  # articles (5 gaps) needed before a median gap means anything
SILENT_INTERVALS = 3  # and never before the source had this many chances to be collected

ALARMS = ("ok", "failing", "unreachable", "blocked", "extraction broken", "stale", "silent")
# What `monitor status` shows; the alarm the operator hears about is one of ALARMS.
State = Literal[
    "ok", "failing", "unreachable", "blocked", "extraction broken", "stale", "silent",
    "never polled", "not collected", "disabled",
]  # fmt: skip
Alarm = Literal["ok", "failing", "unreachable", "blocked", "extraction broken", "stale", "silent"]

NETWORK_ERRORS = frozenset({"dns", "connect", "timeout", "tls"})  # fetch error kinds: no answer
# A crawl_run's problem_kind → the state it puts the source in (NULL: a row from before kinds).
CRAWL_STATES: dict[str, Alarm] = {
    "layout": "extraction broken",
    "failing": "failing",
    "unreachable": "unreachable",
    "blocked": "blocked",
}


def feed_failure_state(kinds: set[str]) -> Alarm:
    """blocked when every failing feed met a challenge, unreachable when none got an answer."""
    if kinds and kinds <= {"challenge"}:
        return "blocked"
    if kinds and kinds <= NETWORK_ERRORS:
        return "unreachable"
    return "failing"


def crawl_state(run: crawls.CrawlRun) -> Alarm:
    return CRAWL_STATES.get(run.problem_kind or "layout", "extraction broken")


def has_spider(source: SourceConfig) -> bool:
    return source.crawl is not None and source.id in SPIDER_NAMES


Collection = Literal["feeds", "spider", "feeds+spider", "not collected", "disabled"]


def collection_state(source: SourceConfig) -> Collection:
    """'feeds', 'spider', 'feeds+spider', 'not collected' or 'disabled'."""
    if not source.enabled:
        return "disabled"
    feeds, spider = bool(source.feeds), has_spider(source)
    if feeds and spider:
        return "feeds+spider"
    if feeds:
        return "feeds"
    return "spider" if spider else "not collected"


def collection_interval(source: SourceConfig) -> float:
    """Seconds between the source's chances to yield articles (its most frequent job)."""
    intervals = []
    if source.feeds:
        intervals.append(source.poll_interval)
    if has_spider(source) and source.crawl is not None:
        intervals.append(source.crawl.interval)
    return min(intervals) if intervals else source.poll_interval


@dataclass(frozen=True)
class Rhythm:
    silent_after: timedelta
    median_gap: timedelta | None  # None: too few articles to know


def rhythm(published: Sequence[datetime], interval_seconds: float) -> Rhythm:
    """How long without a new article makes a source silent.

    SILENT_FACTOR × the median gap between consecutive publication times of its newest articles,
    kept between SILENT_FLOOR and SILENT_CAP (SILENT_UNKNOWN with fewer than RHYTHM_MIN articles),
    and never under SILENT_INTERVALS collection intervals. The median, not the mean: one long
    holiday gap or one burst of same-minute items barely moves it.
    """
    ordered = sorted(published)
    if len(ordered) < RHYTHM_MIN:
        base, gap = SILENT_UNKNOWN, None
    else:
        gap = timedelta(
            seconds=statistics.median(
                (b - a).total_seconds() for a, b in itertools.pairwise(ordered)
            )
        )
        base = min(max(gap * SILENT_FACTOR, SILENT_FLOOR), SILENT_CAP)
    return Rhythm(max(base, timedelta(seconds=interval_seconds * SILENT_INTERVALS)), gap)


@dataclass(frozen=True)
class SourceHealth:
    source: str
    state: State  # see State
    alarm: Alarm | None  # None: not judged (see state)
    detail: str  # why the state is not ok ("" when it is)
    alarm_detail: str  # why the alarm is not ok: the text of the operator's notice
    last_new_at: datetime | None
    silent_after: timedelta | None
    median_gap: timedelta | None
    stale_after: timedelta | None = None


def span(delta: timedelta) -> str:
    """A short human duration: 45 min, 14 h, 3.5 d, 4.2 y."""
    seconds = delta.total_seconds()
    if seconds < 3600:
        return f"{max(0, round(seconds / 60))} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    days = seconds / 86400
    if days >= 365:
        return f"{days / 365.25:.1f} y"
    return f"{days:.0f} d" if days >= 10 or days.is_integer() else f"{days:.1f} d"


def stale_after(source: SourceConfig, cadence: Rhythm) -> timedelta:
    """How old a feed's newest item may be: `stale_after` from feeds.yaml, else silent_after."""
    if source.stale_after is not None:
        return timedelta(seconds=source.stale_after)
    return cadence.silent_after


def feed_staleness(
    entries: int | None, newest: datetime | None, limit: timedelta, now: datetime
) -> str | None:
    """Why a feed that answered is stale ("lists no items", "newest item … old"), or None."""
    if entries == 0:
        return "lists no items"
    if newest is not None and now - newest > limit:
        return (
            f"newest item from {_when(newest)} ({span(now - newest)} old; stale after "
            f"{span(limit)})"
        )
    return None


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def judge(
    source: SourceConfig,
    status: SourceStatus | None,
    listing_crawls: list[crawls.CrawlRun],
    output: store.Output,
    now: datetime,
) -> SourceHealth:
    """One source's state and alarm from what storage says about it (no I/O)."""
    how = collection_state(source)
    if how in ("disabled", "not collected"):
        return SourceHealth(source.id, how, None, "", "", output.last_new_at, None, None)
    polled = status is not None and status.last_poll_at is not None
    if not polled and not listing_crawls:
        return SourceHealth(source.id, "never polled", None, "", "", output.last_new_at, None, None)

    failures = status.consecutive_failures if status is not None else 0
    last_success = status.last_success_at if status is not None else None
    latest_problem = listing_crawls[0].problem if listing_crawls else None
    configured = set(source.feed_urls)
    feeds = [f for f in (status.feeds if status else []) if f.url in configured]
    failed_kinds = {f.last_error_kind or "" for f in feeds if f.consecutive_failures}

    cadence = rhythm(output.published, collection_interval(source))
    limit = stale_after(source, cadence)
    stale = [
        f"feed {f.url} {why}"
        for f in feeds
        if not f.consecutive_failures
        and f.last_status in ("ok", "not_modified")
        and (why := feed_staleness(f.last_entries, f.newest_item_at, limit, now))
    ]
    stale_detail = "; ".join(stale)
    reference = output.last_new_at or output.first_collected_at
    quiet_for = now - reference if reference is not None else None
    silent = quiet_for is not None and quiet_for > cadence.silent_after

    failing_detail = ""
    if failures and status is not None:
        since = f"; last success {_when(last_success)}" if last_success else "; never succeeded"
        polls = "the last poll" if failures == 1 else f"the last {failures} polls"
        failing_detail = f"{polls} failed{since}; last error: {status.last_error}"
    broken_detail = f"the last crawl found a problem: {latest_problem}" if latest_problem else ""
    silent_detail = ""
    if silent and quiet_for is not None and reference is not None:
        what = (
            f"no new article since {_when(output.last_new_at)}"
            if output.last_new_at is not None
            else f"no article at all since its first collection on {_when(reference)}"
        )
        usual = (
            f"usually one every {span(cadence.median_gap)}"
            if cadence.median_gap is not None
            else "too few articles to know its rhythm"
        )
        silent_detail = (
            f"{what} ({span(quiet_for)}); {usual}, so silent after {span(cadence.silent_after)}"
        )

    state: State
    alarm: Alarm
    if failures:
        state, detail = feed_failure_state(failed_kinds), failing_detail
    elif latest_problem:
        state, detail = crawl_state(listing_crawls[0]), broken_detail
    elif stale:
        state, detail = "stale", stale_detail
    elif silent:
        state, detail = "silent", silent_detail
    else:
        state, detail = "ok", ""

    long_failing = failures >= FAILING_POLLS and (
        last_success is None or now - last_success >= FAILING_FOR
    )
    if long_failing:
        alarm, alarm_detail = feed_failure_state(failed_kinds), failing_detail
    elif len(listing_crawls) >= BROKEN_CRAWLS and all(
        c.problem for c in listing_crawls[:BROKEN_CRAWLS]
    ):
        alarm = crawl_state(listing_crawls[0])
        alarm_detail = f"the last {BROKEN_CRAWLS} crawls found a problem: {latest_problem}"
    elif stale:
        alarm, alarm_detail = "stale", stale_detail
    elif silent:
        alarm, alarm_detail = "silent", silent_detail
    else:
        alarm, alarm_detail = "ok", ""
    return SourceHealth(
        source=source.id,
        state=state,
        alarm=alarm,
        detail=detail,
        alarm_detail=alarm_detail,
        last_new_at=output.last_new_at,
        silent_after=cadence.silent_after,
        median_gap=cadence.median_gap,
        stale_after=limit,
    )


def assess(
    conn: Connection, config: Config, now: datetime, only: Iterable[str] | None = None
) -> dict[str, SourceHealth]:
    """Every configured source's health (or only the named ones), in config order."""
    wanted = set(only) if only is not None else None
    statuses = state_store.source_status(conn)
    out: dict[str, SourceHealth] = {}
    for source in config.sources:
        if wanted is not None and source.id not in wanted:
            continue
        listing = crawls.recent_listing_crawls(conn, source.id, BROKEN_CRAWLS)
        out[source.id] = judge(
            source, statuses.get(source.id), listing, store.output(conn, source.id), now
        )
    return out
