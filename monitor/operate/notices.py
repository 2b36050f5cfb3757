"""Tells the operator when a source's health changes: once per change, and once on recovery.

Reads: source health (monitor/operate/health.py). Writes: the source_health table, and notices
to alerts.operator through the dispatcher's operator channel. The state is written before the
notice is sent and marked reported after, so a restart neither forgets a notice nor repeats one
already recorded; a crash between sending and recording repeats that one notice, with the same
Message-ID (its text comes only from the stored row). A notice that fails is retried with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.clock import Clock
from monitor.collect.retry import backoff
from monitor.config import Config
from monitor.operate.health import SourceHealth, assess
from storage import health as store
from storage.db import Database

log = logging.getLogger("monitor.health")

RETRY_FIRST = timedelta(minutes=5)  # a notice that could not be sent: doubling up to RETRY_MAX
RETRY_MAX = timedelta(hours=6)

# Sends (title, body) to the operator; True when delivered (or nothing is configured to send to).
Tell = Callable[[str, str], bool]

# What each state asks of the operator, after the detail (deploy/README.md says more).
WHAT_TO_DO = {
    "failing": "The site answers its feeds or listing pages with errors.",
    "unreachable": "No connection to the site (DNS, connect, timeout): check this host's "
    "network and DNS; collection resumes by itself.",
    "blocked": "The site answered with a bot-protection challenge, or robots.txt disallows the "
    "pages. The monitor does not try to get past it and keeps asking at its usual pace.",
    "extraction broken": "Pages are fetched, but their layout gives no articles: the spider's "
    "selectors need updating.",
    "stale": "The feed answers, but nothing new appears in it: it may be dead. "
    "`monitor sources check` shows every feed's newest item.",
}


@dataclass(frozen=True)
class Notice:
    source: str
    state: str  # the state reported: failing | extraction broken | silent | ok (recovered)
    title: str
    body: str
    delivered: bool


class HealthReporter:
    """check() judges every source, records changes and sends what the operator is owed.

    Blocking (database and network): the daemon runs it in a thread, one at a time.
    """

    def __init__(self, config: Config, db: Database, tell: Tell, *, now: Clock) -> None:
        self.config = config
        self.db = db
        self.tell = tell
        self.now = now
        self.names = {s.id: s.name for s in config.sources}
        self.judged: dict[str, SourceHealth] = {}  # the last check's verdicts (for metrics)

    def check(self) -> list[Notice]:
        now = self.now()
        with self.db.read() as conn:
            judged = assess(conn, self.config, now)
        self.judged = judged
        with self.db.write() as conn:
            rows = store.load(conn)
            for source_id, health in judged.items():
                previous = rows.get(source_id)
                if health.alarm is None or (previous and previous.state == health.alarm):
                    continue
                store.enter_state(conn, source_id, health.alarm, health.alarm_detail, now, previous)
                if previous is None and health.alarm == "ok":
                    continue  # first judgement of a healthy source: nothing happened
                log.log(
                    logging.INFO if health.alarm == "ok" else logging.WARNING,
                    "source health changed",
                    extra={
                        "source": source_id,
                        "state": health.alarm,
                        "previous": previous.state if previous else "unknown",
                        "detail": health.alarm_detail,
                    },
                )
            # Sources not judged now (removed from feeds.yaml, disabled) are left alone: nobody
            # needs news of them, not even a notice still owed from before.
            owed = [
                row
                for row in store.load(conn).values()
                if row.owed
                and row.source_id in judged
                and judged[row.source_id].alarm is not None
                and (row.retry_at is None or row.retry_at <= now)
            ]
        return [self._send(row, now) for row in owed]

    def _send(self, row: store.HealthRow, now: datetime) -> Notice:
        title, body = self.render(row)
        delivered = self.tell(title, body)
        delay = backoff(RETRY_FIRST, row.attempts + 1, RETRY_MAX)
        with self.db.write() as conn:
            if delivered:
                store.mark_reported(conn, row.source_id, row.state, now)
            else:
                store.mark_failed(
                    conn, row.source_id, row.state, "operator notice not delivered", now + delay
                )
        if not delivered:
            log.warning(
                "operator notice will be retried",
                extra={"source": row.source_id, "state": row.state, "at": now + delay},
            )
        elif self.config.alerts.operator:  # otherwise tell_operator logged the notice itself
            log.info(
                "operator told about source health",
                extra={"source": row.source_id, "state": row.state},
            )
        return Notice(row.source_id, row.state, title, body, delivered)

    def render(self, row: store.HealthRow) -> tuple[str, str]:
        """Title and body, from the stored row only: a repeat is the same message."""
        name = f"{self.names.get(row.source_id, row.source_id)} ({row.source_id})"
        since = row.since.strftime("%Y-%m-%d %H:%M UTC")
        if row.state == "ok":
            told = row.reported_at.strftime("%Y-%m-%d %H:%M UTC") if row.reported_at else "earlier"
            return (
                f"Source {name} recovered",
                f"{name} is ok again since {since}.\n"
                f"You were told on {told} that it was {row.reported_state}.",
            )
        lines = [row.detail, WHAT_TO_DO.get(row.state, ""), f"State since {since}."]
        lines.append(
            "`monitor status` shows every source. You will be told once more when this changes."
        )
        return f"Source {name} is {row.state}", "\n".join(line for line in lines if line)
