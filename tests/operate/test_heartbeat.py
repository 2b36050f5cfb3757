"""The scheduler heartbeat behind /healthz and the watchdog: stale when the scheduler stops."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import load_config
from monitor.operate.heartbeat import STALE_AFTER, Heartbeat
from monitor.operate.metrics import MetricsServer, default_metrics


class Seconds:
    """A controllable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_check_goes_stale_and_says_why() -> None:
    clock = Seconds()
    beat = Heartbeat(default_metrics(), clock=clock, wall=lambda: 1_767_225_600.0)
    assert beat.check() == (False, "scheduler not started")
    beat.beat()
    assert beat.check() == (True, "ok")
    clock.now += STALE_AFTER
    assert beat.check() == (True, "ok")  # exactly at the limit is still alive
    clock.now += 1
    healthy, reason = beat.check()
    assert not healthy
    assert reason.startswith("scheduler heartbeat 61 s old (stale after 60 s)")
    beat.beat()
    assert beat.check() == (True, "ok")
    beat.stopping = True
    assert beat.check() == (False, "shutting down")


def test_healthz_and_metrics_follow_the_heartbeat() -> None:
    clock = Seconds()
    metrics = default_metrics()
    beat = Heartbeat(metrics, clock=clock, wall=lambda: 1_767_225_600.0)
    beat.beat()

    async def scrape(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
        async with session.get(url) as resp:
            return resp.status, await resp.text()

    async def main() -> list[tuple[int, str]]:
        server = MetricsServer(metrics, beat.check, port=0)
        port = await server.start()
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                out = [await scrape(session, base + "/healthz")]
                clock.now += 75  # the scheduler stops beating: no sleep, the clock moves
                out.append(await scrape(session, base + "/healthz"))
                out.append(await scrape(session, base + "/metrics"))
                beat.stopping = True
                out.append(await scrape(session, base + "/healthz"))
                return out
        finally:
            await server.stop()

    alive, stale, scraped, stopping = asyncio.run(main())
    assert alive == (200, "ok\n")
    assert stale[0] == 503
    assert stale[1].startswith("scheduler heartbeat 75 s old (stale after 60 s)")
    assert scraped[0] == 200
    assert "\nmonitor_scheduler_heartbeat_age_seconds 75\n" in scraped[1]
    assert "\nmonitor_scheduler_heartbeat_timestamp_seconds 1767225600\n" in scraped[1]
    assert stopping == (503, "shutting down\n")


def test_lag_is_how_late_the_due_run_started() -> None:
    metrics = default_metrics()
    beat = Heartbeat(metrics)
    due = datetime.now(UTC) - timedelta(seconds=2.5)
    beat.record_lag(JobSubmissionEvent(EVENT_JOB_SUBMITTED, "poll:dd", "default", [due]))
    lag = metrics.value("monitor_scheduler_lag_seconds")
    assert lag is not None and 2.5 <= lag < 5


def test_beats_come_from_the_running_scheduler_and_stop_with_it() -> None:
    metrics = default_metrics()
    beat = Heartbeat(metrics)

    async def main() -> tuple[int, int, int]:
        scheduler = AsyncIOScheduler(timezone=UTC)
        beat.install(scheduler, interval=0.05)
        at_install = beat.beats
        scheduler.start()
        for _ in range(200):  # the scheduler runs on real time; give it up to 2 s
            if beat.beats >= at_install + 3:
                break
            await asyncio.sleep(0.01)
        scheduler.pause()  # stuck: the loop is fine, but no job runs any more
        await asyncio.sleep(0.02)  # a beat already handed to the loop may still finish
        running = beat.beats
        await asyncio.sleep(0.25)  # five intervals
        paused = beat.beats
        scheduler.shutdown(wait=False)
        return at_install, running, paused

    at_install, running, paused = asyncio.run(main())
    assert at_install == 1  # install counts from start-up
    assert running >= 4
    assert paused == running  # no beat while the scheduler is paused: the age grows
    lag = metrics.value("monitor_scheduler_lag_seconds")
    assert lag is not None and 0 <= lag < 1


def test_watchdog_pings_stop_while_the_heartbeat_is_stale(tmp_path: Path) -> None:
    import socket

    from monitor.operate.daemon import Daemon
    from monitor.operate.sdnotify import SystemdNotifier
    from storage.db import Database
    from tests.conftest import write_config

    sources = [{"id": "dd", "name": "DD", "base_url": "https://ddnews.gov.in", "feeds": ["/f/"]}]
    config = load_config(write_config(tmp_path / "feeds.yaml", sources)).config
    sock_path = tmp_path / "notify.sock"
    received: list[bytes] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(sock_path))
        sock.setblocking(False)

        def drain() -> int:
            with contextlib.suppress(BlockingIOError):
                while True:
                    received.append(sock.recv(4096))
            return received.count(b"WATCHDOG=1")

        async def main() -> tuple[int, int, int]:
            daemon = Daemon(config, Database("sqlite://"))
            daemon.systemd = SystemdNotifier(
                {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "20000"}  # ping every 10 ms
            )
            clock = Seconds()
            daemon.heartbeat = Heartbeat(daemon.metrics, clock=clock)
            daemon.heartbeat.beat()
            task = asyncio.create_task(daemon._watchdog())
            await asyncio.sleep(0.1)
            alive = drain()
            clock.now += STALE_AFTER + 1  # the scheduler stopped beating
            await asyncio.sleep(0.02)
            stale_from = drain()
            await asyncio.sleep(0.1)
            stale = drain()
            daemon.heartbeat.beat()  # it recovers
            await asyncio.sleep(0.1)
            task.cancel()
            daemon.systemd.close()
            daemon.db.dispose()
            return alive, stale - stale_from, drain() - stale

        alive, while_stale, after = asyncio.run(main())
    assert alive >= 3
    assert while_stale == 0  # systemd's watchdog fires and restarts the daemon
    assert after >= 3
