"""What source health is judged from, and the judged state with what the operator was told.

Reads: article times per source (live articles only), the source row's baseline time, crawl
runs. Reads/writes: the source_health table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from storage.db import insert_for
from storage.models import article_table, crawl_run_table, source_health_table, source_table

RHYTHM_ARTICLES = 30  # the newest live articles whose publication gaps give a source's rhythm


@dataclass(frozen=True)
class Output:
    """What a source has produced: the basis for calling it silent."""

    published: list[datetime]  # publication times of its newest live articles, newest first
    last_new_at: datetime | None  # when the monitor last stored a new live article from it
    first_collected_at: datetime | None  # its first successful collection, if known


def output(conn: Connection, source_id: str) -> Output:
    # Backfilled articles are left out: they are old news found late, not the source's rhythm.
    a = article_table
    live = (a.c.source_id == source_id, a.c.ingest_mode == "live")
    published = [
        row[0]
        for row in conn.execute(
            select(a.c.published_at)
            .where(*live)
            .order_by(a.c.published_at.desc())
            .limit(RHYTHM_ARTICLES)
        )
    ]
    last_new = conn.execute(select(func.max(a.c.first_seen_at)).where(*live)).scalar()
    s, c = source_table, crawl_run_table
    baseline = conn.execute(select(s.c.baseline_done_at).where(s.c.id == source_id)).scalar()
    first_crawl = conn.execute(
        select(func.min(c.c.started_at)).where(c.c.source_id == source_id, c.c.listing_pages > 0)
    ).scalar()
    firsts = [t for t in (baseline, first_crawl) if t is not None]
    return Output(
        published=published,
        last_new_at=last_new,
        first_collected_at=min(firsts) if firsts else None,
    )


@dataclass(frozen=True)
class HealthRow:
    source_id: str
    state: str
    since: datetime
    detail: str
    reported_state: str | None
    reported_at: datetime | None
    attempts: int
    last_error: str | None
    retry_at: datetime | None

    @property
    def owed(self) -> bool:
        """Whether the operator has not yet been told about the current state."""
        return self.state != self.reported_state


def load(conn: Connection) -> dict[str, HealthRow]:
    rows = conn.execute(select(source_health_table)).mappings()
    return {r["source_id"]: HealthRow(**dict(r)) for r in rows}


def enter_state(
    conn: Connection,
    source_id: str,
    state: str,
    detail: str,
    now: datetime,
    previous: HealthRow | None,
) -> None:
    """Record that a source entered `state` now. Becoming ok when the operator was never told
    of a problem owes no notice; anything else is owed until mark_reported()."""
    quiet = state == "ok" and (previous is None or previous.reported_state in (None, "ok"))
    values: dict[str, Any] = {
        "state": state,
        "since": now,
        "detail": detail,
        "attempts": 0,
        "last_error": None,
        "retry_at": None,
    }
    if quiet:
        values["reported_state"] = "ok"
    t = source_health_table
    if previous is None:
        conn.execute(insert_for(conn, t).values(source_id=source_id, **values))
    else:
        conn.execute(update(t).where(t.c.source_id == source_id).values(**values))


def mark_reported(conn: Connection, source_id: str, state: str, now: datetime) -> bool:
    """The operator was told about `state`; False if the source changed state meanwhile (the
    new state is then still owed)."""
    t = source_health_table
    result = conn.execute(
        update(t)
        .where(t.c.source_id == source_id, t.c.state == state)
        .values(reported_state=state, reported_at=now, attempts=0, last_error=None, retry_at=None)
    )
    return bool(result.rowcount)


def mark_failed(
    conn: Connection, source_id: str, state: str, error: str, retry_at: datetime
) -> None:
    """A notice could not be sent: count the attempt, try again from retry_at."""
    t = source_health_table
    conn.execute(
        update(t)
        .where(t.c.source_id == source_id, t.c.state == state)
        .values(attempts=t.c.attempts + 1, last_error=error, retry_at=retry_at)
    )
