"""Dispatch: claims due deliveries from the outbox, sends them through a channel, records the
outcome.

Reads: due delivery rows and their articles. Writes: delivery state (sent / retry / failed) and
operator notices. A delivery is claimed (owner and lease) and committed before sending, so a
crash can repeat at most the message in flight (same Message-ID), never lose one: a claim of a
dead process, or one whose lease lapsed, is taken over by the next dispatcher of any process. A
message whose outcome is unknown (a timeout after it left, a claim taken over) is sent again at
most once. One failing destination never blocks the others. What the messages say is
compose.py's and render.py's business.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError

from monitor.clock import Clock
from monitor.collect.retry import next_attempt
from monitor.config import Config
from monitor.config.alerts import SubscriberConfig
from monitor.deliver import compose
from monitor.deliver.channel import SendResult, send
from monitor.deliver.claims import dead, process_id
from monitor.deliver.destinations import redact, secret_environment
from monitor.deliver.plan import Alerts, Destination
from monitor.deliver.render import Item, Message, render_notice
from monitor.faults import crash_point, fail_point
from storage import deliveries
from storage.db import Database
from storage.deliveries import DeliveryRow

log = logging.getLogger("monitor.dispatch")

RETRY_CAP = timedelta(hours=6)  # no delivery waits longer than this between attempts
MAX_UNKNOWN = 2  # sends with an unknown outcome before a delivery is given up: one repeat
RECORD_TRIES = 8  # writes of a "sent" before the claim is left to lapse (about 30 s of waits)
CREDENTIALS_INCIDENT = "credentials"

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


@dataclass
class _DestinationRun:
    """One destination's sends in one dispatch run."""

    stopped: asyncio.Event = field(default_factory=asyncio.Event)  # a send failed
    worked: bool = False  # a message went out: any open incident of the destination has ended


def _incident(subscriber: str, destination: str) -> str:
    return f"delivery-failed:{subscriber}:{destination}"


class Dispatcher:
    def __init__(
        self, config: Config, db: Database, alerts: Alerts, *, now: Clock, sender: Sender = send
    ) -> None:
        self.config = config
        self.db = db
        self.alerts = alerts
        self.now = now
        self.sender = sender
        self.owner = process_id()
        self.lease = timedelta(seconds=config.alerts.claim_lease)
        self._lock = asyncio.Lock()
        self._parallel = config.alerts.parallel_sends
        self._channel_slots: dict[str, asyncio.Semaphore] = {}
        self._executor: ThreadPoolExecutor | None = None

    def environment(self) -> dict[str, str]:
        return secret_environment(self.config)

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
            crash_point("after_claim")
            try:
                env = await asyncio.to_thread(self.environment)
            except (OSError, ValueError) as exc:
                # e.g. the credentials file missing during a redeploy: retry, tell the operator.
                return await asyncio.to_thread(self._cannot_send, claimed, str(exc), now)
            await asyncio.to_thread(self._close, CREDENTIALS_INCIDENT, "Alerts can be sent again")
            self._channel_slots = {}  # per run: semaphores belong to the running event loop
            groups: dict[tuple[str, str], list[DeliveryRow]] = {}
            for row in claimed:
                groups.setdefault((row.subscriber, row.destination), []).append(row)
            results = await asyncio.gather(
                *(self._deliver(sub, dest, rows, env, now) for (sub, dest), rows in groups.items())
            )
            for part in results:
                report.add(part)
            return report

    def _claim(self, now: datetime) -> list[DeliveryRow]:
        with self.db.write(durable=True) as conn:
            gone = dead(deliveries.claim_owners(conn) - {self.owner})
            rows = deliveries.claim_due(conn, now, self.owner, self.lease, dead_owners=gone)
        taken = [r.id for r in rows if r.unknown and r.claimed_at is not None]
        if gone or taken:
            log.warning(
                "taking over deliveries a stopped process had claimed",
                extra={"owners": sorted(gone), "count": len(taken)},
            )
        return rows

    def _cannot_send(self, rows: list[DeliveryRow], error: str, now: datetime) -> DispatchReport:
        """No message can go out at all: every claimed row waits for a retry."""
        report = DispatchReport(errors=[error])
        for key in {(r.subscriber, r.destination) for r in rows}:
            batch = [r for r in rows if (r.subscriber, r.destination) == key]
            final = self._record_failure(batch, error, now, SendResult(False, error, False))
            report.failed += len(batch) if final else 0
            report.retrying += 0 if final else len(batch)
            report.by_channel[(batch[0].channel, "failed" if final else "retry")] += len(batch)
        log.error("alerts cannot be sent", extra={"error": error, "deliveries": len(rows)})
        self._open(
            CREDENTIALS_INCIDENT,
            "Alerts cannot be sent",
            f"{len(rows)} deliveries wait for a retry: {error}",
        )
        return report

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
        """One destination: its messages start in order, a few at once (parallel_sends; a Telegram
        chat one at a time); a failure stops only this destination."""
        report = DispatchReport()
        sub = self.alerts.subscribers.get(subscriber)
        dest = self._destination(subscriber, destination)
        if sub is None or dest is None:
            # The subscriber or URL was removed from feeds.yaml: nothing to send it to.
            gone = SendResult(False, "destination no longer configured", True)
            await asyncio.to_thread(self._record_failure, rows, gone.error or "", now, gone)
            report.failed += len(rows)
            report.by_channel[(rows[0].channel, "failed")] += len(rows)
            return report
        found = await asyncio.to_thread(compose.items, self.db, rows)
        # A backfill summary (`monitor backfill --notify-digest`) is always its own message.
        live = [r for r in rows if r.mode != "backfill"]
        threshold = self.config.alerts.fold_threshold
        # Later outlets on an alerted story: an immediate subscriber's digest rows are a digest,
        # and follow-ups ("also reported by") are one short message.
        later = ("digest", "followup") if sub.mode == "immediate" else ("followup",)
        now_rows = [r for r in live if r.mode not in later]
        batches: list[tuple[list[DeliveryRow], str]] = [
            (b, sub.mode) for b in compose.batches(sub.mode, now_rows, threshold)
        ]
        for mode in later:
            if held := [r for r in live if r.mode == mode]:
                batches.append((held, mode))
        if len(live) < len(rows):
            batches.append(([r for r in rows if r.mode == "backfill"], "backfill"))
        # Up to parallel_sends messages of a mailbox in flight; a Telegram chat one at a time, so
        # its messages arrive in order and within Telegram's per-chat rate.
        window = asyncio.Semaphore(1 if dest.channel == "telegram" else self._parallel)
        run = _DestinationRun()
        sends: list[asyncio.Task[None]] = []
        for number, (claimed, mode) in enumerate(batches):
            await window.acquire()
            if run.stopped.is_set():
                window.release()
                # Later messages of this destination wait for its next attempt.
                await asyncio.to_thread(self._release, [r for b, _ in batches[number:] for r in b])
                break
            one = self._send_one(report, sub, dest, claimed, mode, found, env, now, run)
            sends.append(asyncio.create_task(self._in_slot(window, one)))
        for outcome in await asyncio.gather(*sends, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome
        return report

    async def _in_slot(self, window: asyncio.Semaphore, send: Awaitable[None]) -> None:
        try:
            await send
        finally:
            window.release()

    async def _send_one(
        self,
        report: DispatchReport,
        sub: SubscriberConfig,
        dest: Destination,
        claimed: list[DeliveryRow],
        mode: str,
        found: dict[int, Item],
        env: Mapping[str, str],
        now: datetime,
        run: _DestinationRun,
    ) -> None:
        """One message: renew its claims, send it, record the outcome; a failure stops the run."""
        subscriber = sub.name
        batch = await asyncio.to_thread(self._still_ours, claimed, now)
        if not batch:
            return  # another process took the lapsed claims and sends them
        if any(r.unknown >= MAX_UNKNOWN for r in batch):
            await self._give_up_unknown(report, subscriber, dest, batch, now)
            return
        message = compose.message(self.config, batch, found, sub.zone, mode)
        async with self._channel_slots.setdefault(dest.channel, self._slots()):
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._pool(), self.sender, dest.url, message, env)
        ids = [r.id for r in batch]
        if result.ok:
            crash_point("after_send")
            await asyncio.to_thread(self._record_sent, ids, message.message_id)
            report.sent += len(ids)
            report.messages += 1
            report.by_channel[(dest.channel, "sent")] += len(ids)
            if not run.worked:  # one write per destination and run, not one per message
                run.worked = True
                await asyncio.to_thread(
                    self._close,
                    _incident(subscriber, dest.key),
                    f"Alerts to subscriber {subscriber} work again",
                )
            return
        run.stopped.set()
        final = await self._failed(report, subscriber, dest, batch, result, now)
        log.warning(
            "delivery failed",
            extra={"subscriber": subscriber, "destination": redact(dest.url),
                   "error": result.error or "send failed", "final": final},
        )  # fmt: skip

    def _slots(self) -> asyncio.Semaphore:
        return asyncio.Semaphore(self._parallel)

    def _pool(self) -> ThreadPoolExecutor:
        """Threads for sends only, so slow providers never hold the threads storage writes use."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._parallel * 3, thread_name_prefix="monitor-send"
            )
        return self._executor

    def _still_ours(self, rows: list[DeliveryRow], now: datetime) -> list[DeliveryRow]:
        """Renew this process's claims before a send; drop rows another process took over."""
        with self.db.write(durable=True) as conn:
            held = deliveries.renew(conn, [r.id for r in rows], self.owner, now + self.lease)
        return [r for r in rows if r.id in held]

    async def _give_up_unknown(
        self,
        report: DispatchReport,
        subscriber: str,
        dest: Destination,
        batch: list[DeliveryRow],
        now: datetime,
    ) -> None:
        error = (
            f"outcome unknown {MAX_UNKNOWN} times (a timeout after sending, or a process that "
            "stopped mid-send): the provider may have it, so it is not sent again"
        )
        result = SendResult(False, error, True)
        await self._failed(report, subscriber, dest, batch, result, now)

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
        final = await asyncio.to_thread(self._record_failure, batch, error, now, result)
        report.errors.append(f"{subscriber} {redact(dest.url)}: {error}")
        if final:
            report.failed += len(batch)
        else:
            report.retrying += len(batch)
        report.by_channel[(dest.channel, "failed" if final else "retry")] += len(batch)
        return final

    def _record_sent(self, ids: list[int], message_id: str) -> None:
        """The message went out: record it, retrying the write (never the send) while the
        database refuses it. If it never succeeds, the claim lapses and the message is
        repeated once, with the same Message-ID."""
        for attempt in range(RECORD_TRIES):
            try:
                fail_point("record_sent")
                with self.db.write(durable=True) as conn:
                    deliveries.mark_sent(conn, ids, self.now(), message_id)
                return
            except (OperationalError, sqlite3.OperationalError) as exc:
                log.warning(
                    "recording a sent delivery failed; retrying the write",
                    extra={"ids": ids[:10], "attempt": attempt + 1, "error": str(exc)},
                )
                time.sleep(min(0.2 * 2**attempt, 10.0))
        log.error("a sent delivery could not be recorded; it will be repeated once",
                  extra={"ids": ids[:10]})  # fmt: skip

    def _release(self, rows: list[DeliveryRow]) -> None:
        with self.db.write(durable=True) as conn:
            deliveries.release_ids(conn, [r.id for r in rows])

    def _record_failure(
        self, rows: list[DeliveryRow], error: str, now: datetime, result: SendResult
    ) -> bool:
        """Schedule a retry with exponential backoff (or the provider's asked wait), or fail
        for good: permanent errors, max_attempts reached, a second unknown outcome."""
        settings = self.config.alerts
        attempts = max(r.attempts for r in rows) + 1
        unknown = max(r.unknown for r in rows) + int(result.unknown)
        final = result.permanent or attempts >= settings.max_attempts or unknown >= MAX_UNKNOWN
        asked = timedelta(seconds=result.retry_after) if result.retry_after else None
        delay = next_attempt(timedelta(seconds=settings.retry_delay), attempts, RETRY_CAP, asked)
        if result.unknown and not final:
            error += " (the provider may have it: sent once more, with the same Message-ID)"
        elif unknown >= MAX_UNKNOWN:
            error += f" (outcome unknown {unknown} times: the provider may have it; not sent again)"
        with self.db.write(durable=True) as conn:
            deliveries.mark_failed(
                conn,
                [r.id for r in rows],
                error=error,
                next_attempt_at=None if final else now + min(delay, RETRY_CAP),
                final=final,
                unknown=result.unknown,
            )
        if final:
            self._open(
                _incident(rows[0].subscriber, rows[0].destination),
                f"Alerts to subscriber {rows[0].subscriber} failed",
                f"{len(rows)} deliveries gave up after {attempts} attempt(s): {error}",
            )
        return final

    def _open(self, key: str, title: str, body: str) -> None:
        """Tell the operator once that an incident started (a restart does not repeat it)."""
        with self.db.write(durable=True) as conn:
            started = deliveries.open_incident(conn, key, self.now())
        if started:
            self.tell_operator(title, body)

    def _close(self, key: str, title: str) -> None:
        """Tell the operator once that an incident ended, so the next one is told again."""
        with self.db.write(durable=True) as conn:
            opened = deliveries.close_incident(conn, key)
        if opened is not None:
            self.tell_operator(title, f"Working again since {self.now():%Y-%m-%d %H:%M UTC}; "
                               f"the problem began {opened:%Y-%m-%d %H:%M UTC}.")  # fmt: skip

    def tell_operator(self, title: str, body: str) -> bool:
        """Send a notice to every alerts.operator URL (blocking). True when at least one took it,
        or when none is configured (the notice is then logged instead: nothing to retry)."""
        if not self.config.alerts.operator:
            log.error("operator notice (no operator URL configured)", extra={"title": title})
            return True
        try:
            env = self.environment()
        except (OSError, ValueError):
            env = dict(os.environ)  # the credentials file itself may be the news
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
