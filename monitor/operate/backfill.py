"""Backfill: every selected outlet's history walked at once, each at its own pace, then the
optional digest of what matched.

Reads: the sources' `backfill:` routes (walk.py walks one source). Writes: through the walks
(articles, checkpoints) and the dispatcher (the `--notify-digest` summary).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from monitor.app import App
from monitor.collect.crawl.runner import CrawlRunner
from monitor.config import SourceConfig
from monitor.operate.walk import BackfillOptions, SourceProgress, SourceWalk
from storage import backfills

log = logging.getLogger("monitor.backfill")

__all__ = ["Backfill", "BackfillOptions", "SourceProgress", "has_history", "run_backfill"]


class Backfill:
    """Runs the walks of several sources at once (different hosts), each with its own pace."""

    def __init__(
        self,
        app: App,
        options: BackfillOptions,
        *,
        on_progress: Callable[[SourceProgress], None] | None = None,
    ) -> None:
        self.app = app
        self.options = options
        self.on_progress = on_progress
        self._runners: list[CrawlRunner] = []
        self.interrupted = False

    async def run(self, sources: list[SourceConfig]) -> list[SourceProgress]:
        return list(await asyncio.gather(*(self._one(s) for s in sources)))

    async def _one(self, source: SourceConfig) -> SourceProgress:
        from spiders import SPIDERS

        assert source.backfill is not None
        walk = SourceWalk(self.app, source, SPIDERS[source.id], self.options, self.on_progress)
        # Each outlet its own runner: its own politeness delay, no crawl time limit.
        runner = CrawlRunner(
            self.app.config,
            self.app.db,
            self.app.judge.rules_hash,
            now=self.app.now,
            download_delay=source.backfill.download_delay,
            history=True,
        )
        self._runners.append(runner)
        clock = time.monotonic()
        layout = None if self.interrupted else await runner.walk(source, walk)
        walk.finish(self.interrupted, time.monotonic() - clock, layout)
        progress = walk.progress
        log.info(
            "backfill finished",
            extra={k: v for k, v in progress.to_json().items() if k != "route_states"},
        )
        return progress

    async def stop(self) -> None:
        """Stop every walk; unfinished pages are not checkpointed, so they are read again."""
        self.interrupted = True
        await asyncio.gather(*(r.stop() for r in self._runners))


async def send_backfill_digest(app: App, sources: list[str]) -> dict[str, int]:
    """`--notify-digest`: each subscriber destination gets one summary of the backfilled matches
    of its rules (all not summarised before), through the outbox like any alert."""
    with app.db.write() as conn:
        matches = backfills.release_for_summary(conn, app.now(), sources)
    totals = {"matches": matches, "messages": 0, "sent": 0, "retrying": 0, "failed": 0}
    while matches:
        report = await app.dispatcher.run_once()
        totals["messages"] += report.messages
        totals["sent"] += report.sent
        totals["retrying"] += report.retrying
        totals["failed"] += report.failed
        if not (report.sent or report.failed):
            break  # nothing more due now; retries are left to the daemon's dispatcher
    return totals


def has_history(source: SourceConfig) -> bool:
    """Whether `monitor backfill` can walk the source: history routes and a spider."""
    from spiders import SPIDER_NAMES

    return source.backfill is not None and source.id in SPIDER_NAMES


async def run_backfill(
    app: App,
    sources: list[SourceConfig],
    options: BackfillOptions,
    *,
    on_progress: Callable[[SourceProgress], None] | None = None,
    on_stop: Callable[[], None] | None = None,
    notify_digest: bool = False,
) -> tuple[list[SourceProgress], dict[str, int] | None]:
    """The whole backfill as a command runs it: Ctrl-C or SIGTERM stops the walks (a second one
    exits at once: checkpoints are already on disk), then the optional digest of the matches."""
    import os
    import signal

    job = Backfill(app, options, on_progress=on_progress)
    loop = asyncio.get_running_loop()
    stops: list[asyncio.Future[None]] = []

    def request_stop() -> None:
        if stops:
            os._exit(130)
        if on_stop is not None:
            on_stop()
        stops.append(asyncio.ensure_future(job.stop()))

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    try:
        reports = await job.run(sources)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    summary = None
    if notify_digest and not job.interrupted:
        summary = await send_backfill_digest(app, [s.id for s in sources])
    return reports, summary
