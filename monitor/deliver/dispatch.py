"""Dispatch: claims due deliveries from the outbox, sends them through a channel, records the
outcome.

Reads: due delivery rows and their articles. Writes: delivery state (sent / retry / failed) and
operator notices. A delivery is claimed and committed before sending, so a crash can repeat at
most the message in flight (same Message-ID), never lose one; one failing destination never
blocks the others. What the messages say is compose.py's and render.py's business.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.clock import Clock
from monitor.collect.retry import backoff
from monitor.config import Config
from monitor.deliver import compose
from monitor.deliver.channel import SendResult, send
from monitor.deliver.destinations import redact, secret_environment
from monitor.deliver.plan import Alerts, Destination
from monitor.deliver.render import Message, render_notice
from storage import deliveries
from storage.db import Database
from storage.deliveries import DeliveryRow

log = logging.getLogger("monitor.dispatch")

# Fault injection for the crash tests: SIGKILL this process at a named point.
CRASH_ENV = "MONITOR_CRASH_AT"
RETRY_CAP = timedelta(hours=6)  # no delivery waits longer than this between attempts

Sender = Callable[[str, Message, Mapping[str, str]], SendResult]


@dataclass
class DispatchReport:
    sent: int = 0  # deliveries marked sent
    messages: int = 0  # messages handed to the channel successfully
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    # (channel, result) → deliveries, result being sent, retry or failed: for the metrics
    by_channel: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, other: DispatchReport) -> None:
        self.sent += other.sent
        self.messages += other.messages
        self.retrying += other.retrying
        self.failed += other.failed
        self.errors += other.errors
        self.by_channel.update(other.by_channel)


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class Dispatcher:
    def __init__(
        self, config: Config, db: Database, alerts: Alerts, *, now: Clock, sender: Sender = send
    ) -> None:
        self.config = config
        self.db = db
        self.alerts = alerts
        self.now = now
        self.sender = sender
        self._lock = asyncio.Lock()

    def environment(self) -> dict[str, str]:
        return secret_environment(self.config)

    def recover(self) -> int:
        """At start-up: deliveries a crash left 'sending' are sent again (at most once more)."""
        with self.db.write() as conn:
            released = deliveries.release_claims(conn)
        if released:
            log.warning("resending deliveries interrupted by a crash", extra={"count": released})
        return released

    async def wait_idle(self) -> None:
        async with self._lock:
            pass

    async def run_once(self) -> DispatchReport:
        """Send everything due now; safe to call often (one run at a time)."""
        async with self._lock:
            now = self.now()
            claimed = await asyncio.to_thread(self._claim, now)
            report = DispatchReport()
            if not claimed:
                return report
            _crash_point("after_claim")
            groups: dict[tuple[str, str], list[DeliveryRow]] = {}
            for row in claimed:
                groups.setdefault((row.subscriber, row.destination), []).append(row)
            env = await asyncio.to_thread(self.environment)
            results = await asyncio.gather(
                *(self._deliver(sub, dest, rows, env, now) for (sub, dest), rows in groups.items())
            )
            for part in results:
                report.add(part)
            return report

    def _claim(self, now: datetime) -> list[DeliveryRow]:
        with self.db.write() as conn:
            return deliveries.claim_due(conn, now)

    def _destination(self, subscriber: str, key: str) -> Destination | None:
        return next((d for d in self.alerts.destinations.get(subscriber, []) if d.key == key), None)

    async def _deliver(
        self,
        subscriber: str,
        destination: str,
        rows: list[DeliveryRow],
        env: Mapping[str, str],
        now: datetime,
    ) -> DispatchReport:
        """One destination: its messages go out in order; a failure stops only this destination."""
        report = DispatchReport()
        sub = self.alerts.subscribers.get(subscriber)
        dest = self._destination(subscriber, destination)
        if sub is None or dest is None:
            # The subscriber or URL was removed from feeds.yaml: nothing to send it to.
            await asyncio.to_thread(
                self._record_failure, rows, "destination no longer configured", now, True
            )
            report.failed += len(rows)
            report.by_channel[(rows[0].channel, "failed")] += len(rows)
            return report
        found = await asyncio.to_thread(compose.items, self.db, rows)
        # A backfill summary (`monitor backfill --notify-digest`) is always its own message.
        live = [r for r in rows if r.mode != "backfill"]
        threshold = self.config.alerts.fold_threshold
        batches: list[tuple[list[DeliveryRow], str]] = [
            (b, sub.mode) for b in compose.batches(sub.mode, live, threshold)
        ]
        if len(live) < len(rows):
            batches.append(([r for r in rows if r.mode == "backfill"], "backfill"))
        for number, (batch, mode) in enumerate(batches):
            message = compose.message(self.config, batch, found, sub.zone, mode)
            result = await asyncio.to_thread(self.sender, dest.url, message, env)
            ids = [r.id for r in batch]
            if result.ok:
                _crash_point("after_send")
                await asyncio.to_thread(self._record_sent, ids, message.message_id)
                report.sent += len(ids)
                report.messages += 1
                report.by_channel[(dest.channel, "sent")] += len(ids)
                continue
            final = await self._failed(report, subscriber, dest, batch, result, now)
            log.warning(
                "delivery failed",
                extra={"subscriber": subscriber, "destination": redact(dest.url),
                       "error": result.error or "send failed", "final": final},
            )  # fmt: skip
            # Later messages of this destination wait for its next attempt, keeping order.
            rest = [r for b, _ in batches[number + 1 :] for r in b]
            if rest:
                await asyncio.to_thread(self._release, rest)
            break
        return report

    async def _failed(
        self,
        report: DispatchReport,
        subscriber: str,
        dest: Destination,
        batch: list[DeliveryRow],
        result: SendResult,
        now: datetime,
    ) -> bool:
        error = result.error or "send failed"
        final = await asyncio.to_thread(self._record_failure, batch, error, now, result.permanent)
        report.errors.append(f"{subscriber} {redact(dest.url)}: {error}")
        if final:
            report.failed += len(batch)
        else:
            report.retrying += len(batch)
        report.by_channel[(dest.channel, "failed" if final else "retry")] += len(batch)
        return final

    def _record_sent(self, ids: list[int], message_id: str) -> None:
        with self.db.write() as conn:
            deliveries.mark_sent(conn, ids, self.now(), message_id)

    def _release(self, rows: list[DeliveryRow]) -> None:
        with self.db.write() as conn:
            deliveries.release_ids(conn, [r.id for r in rows])

    def _record_failure(
        self, rows: list[DeliveryRow], error: str, now: datetime, permanent: bool
    ) -> bool:
        """Schedule a retry with exponential backoff, or fail for good after max_attempts."""
        settings = self.config.alerts
        attempts = max(r.attempts for r in rows) + 1
        final = permanent or attempts >= settings.max_attempts
        delay = backoff(timedelta(seconds=settings.retry_delay), attempts, RETRY_CAP)
        with self.db.write() as conn:
            deliveries.mark_failed(
                conn,
                [r.id for r in rows],
                error=error,
                next_attempt_at=None if final else now + delay,
                final=final,
            )
            tell = final and deliveries.notice_once(
                conn, f"delivery-failed:{rows[0].subscriber}:{rows[0].destination}", now
            )
        if tell:
            self.tell_operator(
                f"Alerts to subscriber {rows[0].subscriber} failed",
                f"{len(rows)} deliveries gave up after {attempts} attempt(s): {error}",
            )
        return final

    def tell_operator(self, title: str, body: str) -> bool:
        """Send a notice to every alerts.operator URL (blocking). True when at least one took it,
        or when none is configured (the notice is then logged instead: nothing to retry)."""
        if not self.config.alerts.operator:
            log.error("operator notice (no operator URL configured)", extra={"title": title})
            return True
        env = self.environment()
        message = render_notice(title, body, self.config.topic.name)
        delivered = False
        for url in self.config.alerts.operator:
            result = self.sender(url, message, env)
            if result.ok:
                delivered = True
            else:
                log.error(
                    "operator notice failed",
                    extra={"destination": redact(url), "error": result.error},
                )
        return delivered
