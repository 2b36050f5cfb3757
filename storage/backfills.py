"""Backfill checkpoints and the summary of backfilled alert matches.

Reads/writes: the backfill_route table (one row per source × history route) and, for
`--notify-digest`, the delivery rows that backfilled articles left suppressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from storage.db import insert_for
from storage.models import article_table, backfill_route_table, delivery_table

BACKFILL_REASON = "backfill"  # the suppression reason Alerts.plan gives backfilled matches


@dataclass
class Checkpoint:
    source_id: str
    route: str
    state: str  # walking | done | end
    since: datetime
    next_url: str | None
    next_page_no: int
    pages: int
    articles: int
    new: int
    oldest_at: datetime | None
    newest_at: datetime | None
    started_at: datetime
    updated_at: datetime


def checkpoints(conn: Connection, source_id: str) -> dict[str, Checkpoint]:
    """Route → its checkpoint, for one source."""
    t = backfill_route_table
    rows = conn.execute(select(t).where(t.c.source_id == source_id)).mappings()
    return {row["route"]: Checkpoint(**dict(row)) for row in rows}


def save_checkpoint(conn: Connection, cp: Checkpoint) -> None:
    """Insert or replace one route's checkpoint (portable: SQLite and PostgreSQL)."""
    values: dict[str, Any] = dict(cp.__dict__)
    stmt = insert_for(conn, backfill_route_table).values(**values)
    keys = ("source_id", "route")
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={k: v for k, v in values.items() if k not in keys},
        )
    )


def forget(conn: Connection, source_id: str) -> int:
    """Drop a source's checkpoints (`--restart`): its next backfill walks from page 1."""
    t = backfill_route_table
    return int(conn.execute(t.delete().where(t.c.source_id == source_id)).rowcount)


def release_for_summary(conn: Connection, now: datetime, sources: Sequence[str]) -> int:
    """Turn backfilled matches not yet summarised into pending 'backfill' digest deliveries.

    Only rows of the given sources; each row is summarised once (its reason changes).
    """
    d, a = delivery_table, article_table
    ids = select(a.c.id).where(a.c.source_id.in_(list(sources)))
    result = conn.execute(
        update(d)
        .where(d.c.state == "suppressed", d.c.reason == BACKFILL_REASON, d.c.article_id.in_(ids))
        .values(state="pending", mode="backfill", reason=None, due_at=now, next_attempt_at=None)
    )
    return int(result.rowcount)
