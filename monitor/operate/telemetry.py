"""Turns what the daemon's jobs report (polls, crawls, dispatch runs) into metric samples.

Reads: SourceReport, CrawlReport and DispatchReport objects, and the config (which series exist).
Writes: counters and gauges of a Metrics registry (monitor/metrics.py); nothing on disk. The jobs
themselves know nothing about metrics: they return reports, and the daemon hands them here.
"""

from __future__ import annotations

from datetime import datetime
from typing import get_args

from monitor.config import Config
from monitor.deliver.dispatch import DispatchReport
from monitor.operate.health import SourceHealth, State, collection_state
from monitor.operate.metrics import Metrics
from monitor.reports import CrawlReport, SourceReport

POLL_OUTCOMES = ("ok", "not_modified", "error", "backoff")
CRAWL_OUTCOMES = ("ok", "problem")
DELIVERY_RESULTS = ("sent", "retry", "failed")

# Results of monitor_articles_total; `updated` is also counted in `duplicate` (see Outcome).
ARTICLE_RESULTS = ("new", "duplicate", "irrelevant", "updated")


def declare(metrics: Metrics, config: Config, channels: set[str]) -> None:
    """Zero-valued series for every collected source and alert channel: a counter that first
    appears at 1 hides that first event from rate() and increase()."""
    for source in config.sources:
        how = collection_state(source)
        if "feeds" in how:
            for outcome in POLL_OUTCOMES:
                metrics.inc("monitor_polls_total", 0, source=source.id, outcome=outcome)
        if "spider" in how:
            for outcome in CRAWL_OUTCOMES:
                metrics.inc("monitor_crawls_total", 0, source=source.id, outcome=outcome)
        if "feeds" in how or "spider" in how:
            _articles(metrics, source.id, dict.fromkeys(ARTICLE_RESULTS, 0))
    for channel in sorted(channels):
        for result in DELIVERY_RESULTS:
            metrics.inc("monitor_deliveries_total", 0, channel=channel, result=result)


def record_poll(metrics: Metrics, report: SourceReport, finished: datetime) -> None:
    """One poll of a source's feeds: one sample per feed fetch, errors by kind, articles."""
    source = report.source
    for feed in report.feeds:
        metrics.inc("monitor_polls_total", source=source, outcome=feed.outcome)
        if feed.outcome == "error":
            metrics.inc(
                "monitor_fetch_errors_total", source=source, kind=feed.error_kind or "other"
            )
    counts = {
        "new": report.total("new") + report.found_on_page,
        "duplicate": report.total("duplicate"),
        "irrelevant": report.total("irrelevant"),
        "updated": report.enriched,  # a feed entry's page gave a fuller text
    }
    _articles(metrics, source, counts)
    fetched = any(f.outcome in ("ok", "not_modified") for f in report.feeds)
    if fetched and report.error is None:
        set_last_success(metrics, source, finished)


def record_crawl(metrics: Metrics, report: CrawlReport, finished: datetime) -> None:
    """One spider run: ok, or problem (nothing fetched, or the layout changed)."""
    metrics.inc(
        "monitor_crawls_total", source=report.source, outcome="problem" if report.problem else "ok"
    )
    counts = {name: int(getattr(report, name)) for name in ARTICLE_RESULTS}
    _articles(metrics, report.source, counts)
    if not report.problem:
        set_last_success(metrics, report.source, finished)


def record_crash(metrics: Metrics, source: str, kind: str) -> None:
    """A poll or crawl that raised instead of reporting (a bug: the log has the traceback)."""
    if kind == "crawl":
        metrics.inc("monitor_crawls_total", source=source, outcome="crashed")
    else:
        metrics.inc("monitor_polls_total", source=source, outcome="crashed")


def record_dispatch(metrics: Metrics, report: DispatchReport) -> None:
    for (channel, result), count in sorted(report.by_channel.items()):
        metrics.inc("monitor_deliveries_total", count, channel=channel, result=result)


def set_states(metrics: Metrics, judged: dict[str, SourceHealth]) -> None:
    """monitor_source_state: 1 for each source's current state, 0 for every other state (so an
    alert rule sees a state end as well as begin)."""
    for source, health in judged.items():
        for state in get_args(State):
            metrics.set(
                "monitor_source_state", 1 if state == health.state else 0, source=source,
                state=state,
            )  # fmt: skip


def set_pending(metrics: Metrics, pending: int) -> None:
    metrics.set("monitor_deliveries_pending", pending)


def set_last_success(metrics: Metrics, source: str, when: datetime) -> None:
    # Never moves backwards: a crawl that started earlier may finish after a later poll.
    current = metrics.value("monitor_last_success_timestamp_seconds", source=source)
    if current is None or when.timestamp() > current:
        metrics.set("monitor_last_success_timestamp_seconds", when.timestamp(), source=source)


def _articles(metrics: Metrics, source: str, counts: dict[str, int]) -> None:
    for result in ARTICLE_RESULTS:
        # Zero increments too, so every result of a polled source is a series from the start.
        metrics.inc("monitor_articles_total", counts[result], source=source, result=result)
