"""The daemon: APScheduler runs each source's refresh on its interval until SIGTERM/SIGINT.

Reads: the config. Writes: through Refresher (articles, state, fetch log), the dispatcher (alert
deliveries) and the health reporter (source health, operator notices); metrics in memory, served
on loopback when metrics.enabled. Jobs coalesce missed runs into one, never overlap for the same
source, and run late rather than being dropped when the loop was busy (misfire_grace_time = the
source's interval). A heartbeat job shows the scheduler is alive to /healthz and the watchdog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, timedelta

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.app import App, open_app
from monitor.article import JobKind
from monitor.clock import Clock, utcnow
from monitor.config import Config, SourceConfig
from monitor.deliver.claims import process_id
from monitor.flow import crawl_source, refresh_source
from monitor.operate import memory, telemetry
from monitor.operate.clockwatch import ClockWatch
from monitor.operate.health import assess, collection_state, has_spider
from monitor.operate.heartbeat import Heartbeat
from monitor.operate.metrics import METRICS, Metrics, MetricsServer, default_metrics
from monitor.operate.notices import HealthReporter
from monitor.operate.sdnotify import SystemdNotifier
from monitor.operate.shares import JobShares
from monitor.runtime import run_async
from storage import articles as store
from storage import crawls, deliveries
from storage import sources as state
from storage.db import Database

log = logging.getLogger("monitor.daemon")

SHUTDOWN_GRACE = 45.0  # seconds in-flight polls get to finish after SIGTERM (systemd allows 90)
STAGGER = 2.0  # seconds between the first polls of consecutive sources at start-up
SEEN_RETENTION = timedelta(days=90)
FETCH_LOG_RETENTION = timedelta(days=30)

__all__ = ["Daemon", "collection_state", "has_spider", "run_daemon"]


class Daemon:
    app: App  # opened by run()
    reporter: HealthReporter
    shares: JobShares  # built with the schedule

    def __init__(
        self,
        config: Config,
        db: Database,
        *,
        now: Clock = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.now = now
        self.stopping = asyncio.Event()
        self._inflight: set[asyncio.Task[object]] = set()
        self.systemd = SystemdNotifier()
        self.metrics = metrics if metrics is not None else default_metrics()
        self.heartbeat = Heartbeat(self.metrics)
        self._health_lock = asyncio.Lock()

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stop requested; finishing in-flight polls")
            self.systemd.stopping()
            self.heartbeat.stopping = True  # /healthz answers 503 "shutting down" from now on
            self.stopping.set()

    async def run(self) -> int:
        self.db.create_schema(upgrade=self.config.daemon.auto_upgrade)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        async with open_app(self.config, self.db, now=self.now, spiders=True) as app:
            self.app = app
            self.reporter = HealthReporter(
                self.config, self.db, app.dispatcher.tell_operator, now=self.now
            )
            await asyncio.to_thread(self._seed_metrics)
            scheduler = self._schedule()
            await asyncio.to_thread(self.shares.join)
            scheduler.start()
            jobs = len(scheduler.get_jobs())
            server = await self._start_metrics()
            log.info("daemon started", extra={"jobs": jobs, "db": self.db.url})
            self.systemd.ready(f"running {jobs} jobs")
            watchdog = asyncio.create_task(self._watchdog())
            clockwatch = asyncio.create_task(ClockWatch(scheduler).run())
            await self.stopping.wait()
            watchdog.cancel()
            clockwatch.cancel()
            scheduler.pause()
            await self._shut_down(app)
            scheduler.shutdown(wait=False)
            if server is not None:
                await server.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("daemon stopped")
        self.systemd.close()
        return 0

    async def _shut_down(self, app: App) -> None:
        """One budget for the whole shutdown, inside systemd's TimeoutStopSec (90 s)."""
        deadline = asyncio.get_running_loop().time() + SHUTDOWN_GRACE
        if app.crawler is not None:
            # Crawls close with finish_reason=shutdown; what they scraped is already stored.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(app.crawler.stop(), self._left(deadline))
        await self._drain(self._left(deadline))
        with contextlib.suppress(TimeoutError):
            # a send in flight is recorded, not abandoned
            await asyncio.wait_for(app.dispatcher.wait_idle(), self._left(deadline) + 5)
        try:
            await asyncio.to_thread(self.shares.leave)  # other daemons take over at once
        except Exception:
            log.exception("handing the jobs over failed; they pass on when the leases lapse")

    def _schedule(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1}
        )
        scheduler.add_listener(
            _log_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )
        start = self.now()
        scheduled = 0
        for source in self.config.sources:
            how = collection_state(source)
            if how == "not collected":
                log.warning(
                    "source not collected: it has no feeds and no spider",
                    extra={"source": source.id},
                )
            if "feeds" in how:
                scheduler.add_job(
                    self._guarded,
                    IntervalTrigger(seconds=source.poll_interval, jitter=source.jitter_seconds),
                    args=[source, "poll"],
                    id=f"poll:{source.id}",
                    name=f"poll {source.id}",
                    next_run_time=start + timedelta(seconds=STAGGER * scheduled),
                    misfire_grace_time=int(source.poll_interval),
                )
                scheduled += 1
            if "spider" in how and source.crawl is not None:
                scheduler.add_job(
                    self._guarded,
                    IntervalTrigger(
                        seconds=source.crawl.interval, jitter=source.crawl.jitter_seconds
                    ),
                    args=[source, "crawl"],
                    id=f"crawl:{source.id}",
                    name=f"crawl {source.id}",
                    next_run_time=start + timedelta(seconds=STAGGER * scheduled),
                    misfire_grace_time=int(source.crawl.interval),
                )
                scheduled += 1
        lease = self.config.daemon.job_lease
        self.shares = JobShares(self.db, process_id(), lease, scheduled, self.now)
        scheduler.add_job(
            self._renew_leases,
            IntervalTrigger(seconds=max(1, int(lease / 3))),
            id="leases",
            next_run_time=start + timedelta(seconds=max(1, int(lease / 3))),
            misfire_grace_time=max(1, int(lease / 3)),
        )
        if self.config.subscribers:
            scheduler.add_job(
                self._dispatch,
                IntervalTrigger(seconds=self.config.alerts.dispatch_interval),
                id="dispatch",
                next_run_time=start,
                misfire_grace_time=int(self.config.alerts.dispatch_interval),
            )
        scheduler.add_job(
            self._maintain,
            IntervalTrigger(hours=24, jitter=600),
            id="maintenance",
            next_run_time=start + timedelta(minutes=5),
            misfire_grace_time=3600,
        )
        self.heartbeat.install(scheduler)
        return scheduler

    async def _start_metrics(self) -> MetricsServer | None:
        """/metrics and /healthz, when enabled. A port in use is logged, not fatal: collecting
        the news matters more than its metrics, and a scraper notices the missing endpoint."""
        settings = self.config.metrics
        if not settings.enabled:
            return None
        server = MetricsServer(
            self.metrics,
            self.heartbeat.check,
            settings.host,
            settings.port,
            allow_remote=settings.allow_remote,
        )
        try:
            await server.start()
        except (OSError, ValueError) as exc:
            log.error(
                "metrics server not started; running without it",
                extra={"host": settings.host, "port": settings.port, "error": str(exc)},
            )
            return None
        return server

    def _seed_metrics(self) -> None:
        """Series for every configured source from the start, and the stored last successes,
        so a restart does not make every source look as if it never succeeded."""
        dests = self.app.alerts.destinations.values()
        telemetry.declare(self.metrics, self.config, {d.channel for ds in dests for d in ds})
        configured = {s.id for s in self.config.sources}
        with self.db.read() as conn:
            statuses = state.source_status(conn)
            latest = {sid: crawls.recent_listing_crawls(conn, sid, 1) for sid in configured}
            pending = deliveries.count_pending(conn)
            telemetry.set_states(self.metrics, assess(conn, self.config, self.now()))
        for sid, st in statuses.items():
            if sid in configured and st.last_success_at is not None:
                telemetry.set_last_success(self.metrics, sid, st.last_success_at)
        for sid, runs in latest.items():
            if runs and not runs[0].problem:
                telemetry.set_last_success(self.metrics, sid, runs[0].started_at)
        telemetry.set_pending(self.metrics, pending)

    async def _guarded(self, source: SourceConfig, kind: JobKind) -> None:
        """One poll or crawl, tracked so shutdown can wait for it; an exception is only logged."""
        if self.stopping.is_set():
            return
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            if not await asyncio.to_thread(self.shares.hold, f"{kind}:{source.id}"):
                return  # another daemon on this database runs it
            if kind == "crawl" and self.app.crawler is not None:
                crawled = await crawl_source(self.app, source)
                telemetry.record_crawl(self.metrics, crawled, self.now())
                new, parsed = crawled.new, True
            else:
                polled = await refresh_source(self.app, source)
                telemetry.record_poll(self.metrics, polled, self.now())
                new, parsed = polled.total("new"), polled.count("ok") > 0
            if new and self.config.subscribers:
                await self._dispatch()  # new articles alert now, not at the next dispatch tick
            self.systemd.status(f"last {kind} {source.id}: {new} new")
            await self._check_health()  # a source that just failed, broke or recovered
            if parsed and len(self._inflight) == 1:  # the last job running: its memory is free
                await asyncio.to_thread(memory.release)
        except asyncio.CancelledError:
            raise
        except Exception:
            telemetry.record_crash(self.metrics, source.id, kind)
            log.exception(f"{kind} crashed", extra={"source": source.id})
        finally:
            self._inflight.discard(task)

    async def _renew_leases(self) -> None:
        try:
            await asyncio.to_thread(self.shares.renew)
        except Exception:  # a database hiccup: the next renewal comes well within the lease
            log.exception("renewing the job leases failed")

    async def _check_health(self) -> None:
        """Judge every source and tell the operator of changes; one check at a time, so two
        polls finishing together cannot send the same notice twice."""
        async with self._health_lock:
            try:
                await asyncio.to_thread(self.reporter.check)
            except Exception:
                log.exception("source health check crashed")
            else:
                telemetry.set_states(self.metrics, self.reporter.judged)

    async def _dispatch(self) -> None:
        try:
            report = await self.app.dispatcher.run_once()
            telemetry.record_dispatch(self.metrics, report)
            telemetry.set_pending(self.metrics, await asyncio.to_thread(self._count_pending))
        except Exception:
            log.exception("dispatch crashed")
            return
        if report.messages or report.errors:
            log.info(
                "alerts dispatched",
                extra={
                    "sent": report.sent,
                    "messages": report.messages,
                    "retrying": report.retrying,
                    "failed": report.failed,
                },
            )

    @staticmethod
    def _left(deadline: float) -> float:
        return max(0.1, deadline - asyncio.get_running_loop().time())

    def _count_pending(self) -> int:
        with self.db.read() as conn:
            return deliveries.count_pending(conn)

    async def _watchdog(self) -> None:
        """WATCHDOG=1 from a task on the event loop itself: if the loop is blocked, pings stop
        and systemd restarts the service (a separate thread would keep pinging regardless).
        Pings also stop while the scheduler's heartbeat is stale: a loop that runs but no
        longer runs jobs is restarted too."""
        interval = self.systemd.watchdog_interval()
        if interval is None:
            return
        withheld = False
        while True:
            healthy, reason = self.heartbeat.check()
            if healthy or self.heartbeat.stopping:  # shutting down is not being stuck
                self.systemd.watchdog()
                withheld = False
            elif not withheld:
                withheld = True
                log.error("watchdog pings withheld: scheduler stuck", extra={"reason": reason})
            await asyncio.sleep(interval)

    async def _drain(self, timeout: float = SHUTDOWN_GRACE) -> None:
        pending = {t for t in self._inflight if not t.done()}
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            log.warning("abandoned polls at shutdown", extra={"count": len(still)})
            await asyncio.wait(still, timeout=5)

    async def _maintain(self) -> None:
        await asyncio.to_thread(self._prune)
        await self._check_health()  # also retries notices that could not be sent

    def _prune(self) -> None:
        now = self.now()
        with self.db.write() as conn:
            seen = store.prune_seen(conn, now - SEEN_RETENTION)
            logs = state.prune_fetch_log(conn, now - FETCH_LOG_RETENTION)
            logs += crawls.prune_crawl_runs(conn, now - FETCH_LOG_RETENTION)
        log.info("maintenance", extra={"seen_pruned": seen, "fetch_log_pruned": logs})


def _log_job_event(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning("job run missed", extra={"job": event.job_id})
    elif event.code == EVENT_JOB_MAX_INSTANCES:
        log.warning("job still running; this run skipped", extra={"job": event.job_id})
    elif event.exception is not None:
        log.error("job failed", extra={"job": event.job_id, "error": repr(event.exception)})


def run_daemon(config: Config, db: Database) -> int:
    return run_async(Daemon(config, db, metrics=METRICS).run)
