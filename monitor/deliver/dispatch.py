"""Dispatch: claims due deliveries from the outbox, sends them through Apprise, records the outcome.

Reads: due delivery rows and their articles. Writes: delivery state (sent / retry / failed) and
operator notices. A delivery is claimed and committed before sending, so a crash can repeat at
most the message in flight (same Message-ID), never lose one; one failing destination never
blocks the others.
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
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from monitor.config import Config
from monitor.deliver.notify import (
    Item,
    Message,
    SendResult,
    load_credentials,
    placeholders,
    redact,
    render_digest,
    render_notice,
    render_single,
    send,
)
from monitor.deliver.plan import Alerts
from monitor.operate.logs import add_secrets
from storage import deliveries
from storage.db import Database

log = logging.getLogger("monitor.dispatch")

# Fault injection for the crash tests: SIGKILL this process at a named point.
CRASH_ENV = "MONITOR_CRASH_AT"

Sender = Callable[[str, Message, Mapping[str, str]], SendResult]


@dataclass
class DispatchReport:
    sent: int = 0  # deliveries marked sent
    messages: int = 0  # messages handed to Apprise successfully
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


def secret_environment(config: Config) -> dict[str, str]:
    """Values for ${VAR} placeholders: the environment, overlaid by alerts.credentials_file.

    The values the configured URLs use (and everything in the credentials file) are registered
    with the log formatter, which then never prints them.
    """
    path = config.alerts.credentials_file
    credentials = load_credentials(Path(path) if path else None)
    env = {**os.environ, **credentials}
    templates = [u for s in config.subscribers for u in s.urls] + config.alerts.operator
    used = {name for url in templates for name in placeholders(url)}
    values = [*credentials.values(), *(env[name] for name in used if name in env)]
    # Expanded URLs carry the values percent-encoded (notify._expand): hide both forms.
    add_secrets([*values, *(quote(v, safe=":") for v in values)])
    return env


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class Dispatcher:
    def __init__(
        self,
        config: Config,
        db: Database,
        *,
        now: Callable[[], datetime],
        sender: Sender = send,
        alerts: Alerts | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.now = now
        self.sender = sender
        self.alerts = alerts or Alerts(config)
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
            groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for row in claimed:
                groups.setdefault((row["subscriber"], row["destination"]), []).append(row)
            env = await asyncio.to_thread(self.environment)
            results = await asyncio.gather(
                *(self._deliver(sub, dest, rows, env, now) for (sub, dest), rows in groups.items())
            )
            for part in results:
                report.add(part)
            return report

    def _claim(self, now: datetime) -> list[dict[str, Any]]:
        with self.db.write() as conn:
            return deliveries.claim_due(conn, now)

    async def _deliver(
        self,
        subscriber: str,
        destination: str,
        rows: list[dict[str, Any]],
        env: Mapping[str, str],
        now: datetime,
    ) -> DispatchReport:
        """One destination: its messages go out in order; a failure stops only this destination."""
        report = DispatchReport()
        sub = self.alerts.subscribers.get(subscriber)
        dest = next(
            (d for d in self.alerts.destinations.get(subscriber, []) if d.key == destination), None
        )
        if sub is None or dest is None:
            # The subscriber or URL was removed from feeds.yaml: nothing to send it to.
            await asyncio.to_thread(
                self._record_failure, rows, "destination no longer configured", now, True
            )
            report.failed += len(rows)
            report.by_channel[(rows[0]["channel"], "failed")] += len(rows)
            return report
        tz = ZoneInfo(sub.timezone)
        items = await asyncio.to_thread(self._items, rows)
        # A backfill summary (`monitor backfill --notify-digest`) is always its own message.
        backfilled = [r for r in rows if r["mode"] == "backfill"]
        live = [r for r in rows if r["mode"] != "backfill"]
        batches: list[tuple[list[dict[str, Any]], str]] = [
            (b, sub.mode) for b in self._batches(sub.mode, live)
        ]
        if backfilled:
            batches.append((backfilled, "backfill"))
        for number, (batch, mode) in enumerate(batches):
            message = self._render(batch, items, tz, mode)
            result = await asyncio.to_thread(self.sender, dest.url, message, env)
            ids = [r["id"] for r in batch]
            if result.ok:
                _crash_point("after_send")
                await asyncio.to_thread(self._record_sent, ids, message.message_id)
                report.sent += len(ids)
                report.messages += 1
                report.by_channel[(dest.channel, "sent")] += len(ids)
                continue
            error = result.error or "send failed"
            final = await asyncio.to_thread(
                self._record_failure, batch, error, now, result.permanent
            )
            report.errors.append(f"{subscriber} {redact(dest.url)}: {error}")
            if final:
                report.failed += len(ids)
            else:
                report.retrying += len(ids)
            report.by_channel[(dest.channel, "failed" if final else "retry")] += len(ids)
            log.warning(
                "delivery failed",
                extra={
                    "subscriber": subscriber,
                    "destination": redact(dest.url),
                    "error": error,
                    "final": final,
                },
            )
            # Later messages of this destination wait for its next attempt, keeping order.
            rest = [r for b, _ in batches[number + 1 :] for r in b]
            if rest:
                await asyncio.to_thread(self._release, rest)
            break
        return report

    def _batches(self, mode: str, rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Digests and floods (more than fold_threshold at once) become one message."""
        if mode == "digest" or len(rows) > self.config.alerts.fold_threshold:
            return [rows]
        return [[row] for row in rows]

    def _items(self, rows: list[dict[str, Any]]) -> dict[int, Item]:
        ids = [r["article_id"] for r in rows]
        with self.db.read() as conn:
            data = deliveries.items_for(conn, ids)
            outlets = deliveries.story_outlets(
                conn, [d["fingerprint"] for d in data.values() if d["fingerprint"]]
            )
        why = {r["article_id"]: r["why"] for r in rows}
        return {
            article_id: Item(
                source_name=d["source_name"],
                title=d["title"],
                url=d["url"],
                published_at=d["published_at"],
                sectors=sorted(d["sectors"]),
                why=list(why.get(article_id, [])),
                summary=d["summary"] or d["text"][:500],
                other_outlets=[
                    o for o in outlets.get(d["fingerprint"] or "", []) if o != d["source_name"]
                ],
            )
            for article_id, d in data.items()
        }

    @staticmethod
    def _render(
        batch: list[dict[str, Any]], items: dict[int, Item], tz: ZoneInfo, mode: str
    ) -> Message:
        if len(batch) == 1 and mode == "immediate":
            row = batch[0]
            return render_single(items[row["article_id"]], tz, f"delivery-{row['id']}")
        first, last = batch[0]["id"], batch[-1]["id"]
        listed = _unique_stories([items[r["article_id"]] for r in batch])
        headings = {
            "digest": f"Digest: {len(listed)} India–Japan stories",
            # --notify-digest of `monitor backfill`: past coverage, said so up front.
            "backfill": f"Backfill: {len(listed)} past India–Japan stories match your rules",
        }
        heading = headings.get(mode, f"{len(listed)} new India–Japan matches")
        return render_digest(listed, tz, f"batch-{first}-{last}-{len(batch)}", heading)

    def _record_sent(self, ids: list[int], message_id: str) -> None:
        with self.db.write() as conn:
            deliveries.mark_sent(conn, ids, self.now(), message_id)

    def _release(self, rows: list[dict[str, Any]]) -> None:
        with self.db.write() as conn:
            deliveries.release_ids(conn, [r["id"] for r in rows])

    def _record_failure(
        self, rows: list[dict[str, Any]], error: str, now: datetime, permanent: bool
    ) -> bool:
        """Schedule a retry with exponential backoff, or fail for good after max_attempts."""
        settings = self.config.alerts
        attempts = max(r["attempts"] for r in rows) + 1
        final = permanent or attempts >= settings.max_attempts
        delay = timedelta(seconds=settings.retry_delay * 2 ** (attempts - 1))
        with self.db.write() as conn:
            deliveries.mark_failed(
                conn,
                [r["id"] for r in rows],
                error=error,
                next_attempt_at=None if final else now + delay,
                final=final,
            )
            tell = final and deliveries.notice_once(
                conn, f"delivery-failed:{rows[0]['subscriber']}:{rows[0]['destination']}", now
            )
        if tell:
            self.tell_operator(
                f"Alerts to subscriber {rows[0]['subscriber']} failed",
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
        message = render_notice(title, body)
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


def _unique_stories(items: list[Item]) -> list[Item]:
    """A story carried by several outlets is listed once, naming every outlet."""
    seen: dict[tuple[str, str], Item] = {}
    for item in items:
        seen.setdefault((item.title.lower(), item.summary[:200].lower()), item)
    return list(seen.values())
