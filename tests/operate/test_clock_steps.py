"""The daemon keeps its schedule when the wall clock steps back or forward.

The daemon runs as a real process under libfaketime reading its offset from a file, so the
test can move the process's wall clock while it runs (the monotonic clock is left alone, as a
real NTP step or VM resume would).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.operate.clockwatch import ClockWatch
from tests.conftest import FEEDS, REPO, FeedServer, write_config
from tests.processes import count, wait_until


def faked(offset_file: Path) -> dict[str, str]:
    libfaketime = pytest.importorskip("libfaketime")
    _, additions = libfaketime.get_reload_information()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "FAKETIME"))}
    env.update(additions)
    env.update(
        FAKETIME_TIMESTAMP_FILE=str(offset_file), FAKETIME_NO_CACHE="1", DONT_FAKE_MONOTONIC="1"
    )
    return env


def polls(db: Path) -> int:
    return count(db, "SELECT count(*) FROM fetch_log")


@pytest.mark.parametrize("step", ["-1h", "+1h"])
def test_the_daemon_keeps_polling_across_a_clock_step(
    tmp_path: Path, feed_server: FeedServer, step: str
) -> None:
    feed_server.serve_file("/feed/", FEEDS / "japantimes_feed.xml")
    source = {"id": "jt", "name": "JT", "base_url": feed_server.base_url, "feeds": ["/feed/"],
              "poll_interval": "2s", "jitter": "1s"}  # fmt: skip
    cfg = write_config(tmp_path / "feeds.yaml", [source])
    db = tmp_path / "m.db"
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(cfg), "--db", str(db), "run"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=faked(offset),
    )  # fmt: skip
    try:
        wait_until(lambda: polls(db) >= 2, timeout=30)
        offset.write_text(f"{step}\n")  # the wall clock jumps; the monotonic one does not
        stepped = polls(db)
        started = time.monotonic()
        wait_until(lambda: polls(db) >= stepped + 3, timeout=20)  # ~every 2 s, as before
        took = time.monotonic() - started
    finally:
        daemon.terminate()
        _, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err
    assert "wall clock stepped" in err
    assert took >= 3, "a step forward must not fire every job at once"


class FakeJob:
    def __init__(self, at: datetime) -> None:
        self.next_run_time: datetime | None = at

    def modify(self, next_run_time: datetime) -> None:
        self.next_run_time = next_run_time


class FakeScheduler:
    def __init__(self, jobs: list[FakeJob]) -> None:
        self.jobs, self.woken = jobs, 0

    def get_jobs(self) -> list[Any]:
        return list(self.jobs)

    def wakeup(self) -> None:
        self.woken += 1


def test_each_jobs_next_run_moves_by_the_step_and_small_drift_is_ignored() -> None:
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    jobs = [FakeJob(t0 + timedelta(seconds=30)), FakeJob(t0 + timedelta(minutes=15))]
    readings = {"wall": 1000.0, "mono": 50.0}
    watch = ClockWatch(FakeScheduler(jobs), wall=lambda: readings["wall"],
                       mono=lambda: readings["mono"])  # fmt: skip
    readings.update(wall=1002.5, mono=52.0)  # 0.5 s of scheduling noise
    assert watch.check(1000.0, 50.0) == 0.0 and jobs[0].next_run_time == t0 + timedelta(seconds=30)
    readings.update(wall=1002.0 - 3600, mono=52.0)  # stepped back an hour
    assert round(watch.check(1000.0, 50.0)) == -3600
    assert jobs[0].next_run_time == t0 + timedelta(seconds=30 - 3600)
    assert jobs[1].next_run_time == t0 + timedelta(minutes=15, seconds=-3600)
    assert watch.steps == 1
