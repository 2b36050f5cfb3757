"""Keeps the schedule when the wall clock steps (an NTP correction, a VM resumed, an operator).

Reads: the wall clock and the monotonic clock. Writes: the next run times of the scheduler's
jobs. APScheduler 3 waits for wall-clock instants: after a step back by an hour every job would
sleep an hour (and the watchdog would restart the service); after a step forward every job
would fire at once. Each job's next run is moved by the step, so intervals keep their spacing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

log = logging.getLogger("monitor.daemon")

CHECK_EVERY = 2.0  # seconds of monotonic time between looks at the wall clock
TOLERANCE = 5.0  # seconds of disagreement that are a step, not scheduling noise


class ClockWatch:
    def __init__(
        self,
        scheduler: Any,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scheduler = scheduler
        self.wall = wall
        self.mono = mono
        self.steps = 0

    def check(self, wall_before: float, mono_before: float) -> float:
        """Seconds the wall clock stepped since the readings given (0 when it did not), after
        moving every job's next run time by that step."""
        step = (self.wall() - wall_before) - (self.mono() - mono_before)
        if abs(step) < TOLERANCE:
            return 0.0
        self.steps += 1
        shift = timedelta(seconds=step)
        moved = 0
        for job in self.scheduler.get_jobs():
            if job.next_run_time is not None:
                job.modify(next_run_time=job.next_run_time + shift)
                moved += 1
        self.scheduler.wakeup()
        log.warning(
            "wall clock stepped; schedule moved with it",
            extra={"step_seconds": round(step, 1), "jobs": moved},
        )
        return step

    async def run(self) -> None:
        while True:
            wall, mono = self.wall(), self.mono()
            await asyncio.sleep(CHECK_EVERY)  # the loop's clock is monotonic
            self.check(wall, mono)
