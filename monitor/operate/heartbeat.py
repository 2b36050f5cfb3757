"""Scheduler liveness: a heartbeat job on the daemon's scheduler, and how late jobs start.

Reads: the clocks (injectable) and APScheduler's job-submission events. Writes: the heartbeat
and scheduler-lag gauges of a Metrics registry; nothing on disk. /healthz and the systemd
watchdog ask check() whether the scheduler is still doing its work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.operate.metrics import Metrics

HEARTBEAT_INTERVAL = 5.0  # seconds between beats
# A beat older than this means the scheduler is stuck. It is well above the longest stall the
# loop normally sees (Scrapy parsing a large page) and well below systemd's 120 s watchdog.
STALE_AFTER = 60.0

JOB_ID = "heartbeat"


class Heartbeat:
    """Beats come from a job of the scheduler itself, run on the event loop: a blocked loop, a
    paused or stopped scheduler, or a dead executor all stop the beats, and the age grows.

    `clock` (monotonic seconds) decides staleness; `wall` (Unix seconds) only feeds the gauge.
    """

    def __init__(
        self,
        metrics: Metrics,
        *,
        stale_after: float = STALE_AFTER,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.metrics = metrics
        self.stale_after = stale_after
        self.clock = clock
        self.wall = wall
        self.beats = 0
        self.stopping = False
        self._last: float | None = None
        metrics.add_collector(self._collect)

    def beat(self) -> None:
        self.beats += 1
        self._last = self.clock()
        self.metrics.set("monitor_scheduler_heartbeat_timestamp_seconds", self.wall())

    def age(self) -> float | None:
        """Seconds since the last beat, or None before the first one."""
        return None if self._last is None else max(0.0, self.clock() - self._last)

    def check(self) -> tuple[bool, str]:
        """(healthy, reason) for /healthz: cheap, in memory, never blocks."""
        if self.stopping:
            return False, "shutting down"
        age = self.age()
        if age is None:
            return False, "scheduler not started"
        if age > self.stale_after:
            return False, (
                f"scheduler heartbeat {age:.0f} s old (stale after {self.stale_after:.0f} s): "
                "the scheduler or its event loop is stuck"
            )
        return True, "ok"

    def install(self, scheduler: BaseScheduler, interval: float = HEARTBEAT_INTERVAL) -> None:
        """Add the heartbeat job and the lag listener to a scheduler (before it starts)."""
        self.beat()  # counts from start-up, so a scheduler that never runs a job goes stale
        scheduler.add_job(
            self._job,
            IntervalTrigger(seconds=interval),
            id=JOB_ID,
            name=JOB_ID,
            next_run_time=datetime.now(UTC),
            misfire_grace_time=None,  # a late beat still runs: it is the proof of life
        )
        scheduler.add_listener(self.record_lag, EVENT_JOB_SUBMITTED)

    async def _job(self) -> None:
        # A coroutine, so APScheduler's asyncio executor runs it on the loop, not in a thread.
        self.beat()

    def record_lag(self, event: JobSubmissionEvent) -> None:
        """How late the job just submitted starts: now minus the run time it was due (with
        coalesce on, the latest missed one). APScheduler keeps real UTC time, so does this."""
        if not event.scheduled_run_times:
            return
        due = event.scheduled_run_times[-1]
        lag = (datetime.now(UTC) - due).total_seconds()
        self.metrics.set("monitor_scheduler_lag_seconds", max(0.0, lag))

    def _collect(self, metrics: Metrics) -> None:
        age = self.age()
        if age is not None:
            metrics.set("monitor_scheduler_heartbeat_age_seconds", age)
