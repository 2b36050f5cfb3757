"""Job leases: which daemon runs each source's poll and crawl when several share one database.

Reads/writes: job_lease. A job belongs to the daemon whose lease on it has not lapsed; the owner
renews its leases while it lives, so a daemon that dies loses its jobs one lease later (at once
when it was a process on this host that is gone). Taking a lease is one atomic statement, so two
daemons firing the same job at once cannot both win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, case, or_, select, update

from storage.db import insert_for
from storage.models import job_lease_table

DAEMON = "daemon:"  # prefix of each live daemon's own row


@dataclass(frozen=True)
class Lease:
    job: str
    owner: str
    until: datetime
    taken_at: datetime


def take(
    conn: Connection,
    job: str,
    owner: str,
    now: datetime,
    seconds: float,
    dead_owners: Iterable[str] = (),
) -> bool:
    """Hold `job` for `seconds` if it is free, lapsed, ours, or its owner is dead."""
    t = job_lease_table
    until = now + timedelta(seconds=seconds)
    stmt = insert_for(conn, t).values(
        job=job, owner=owner, until=until, taken_at=now, seconds=seconds
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.job],
        set_={
            "owner": owner,
            "until": until,
            "seconds": seconds,
            "taken_at": case((t.c.owner == owner, t.c.taken_at), else_=now),
        },
        where=or_(t.c.owner == owner, t.c.until < now, t.c.owner.in_(list(dead_owners))),
    )
    return conn.execute(stmt.returning(t.c.job)).first() is not None


def renew(conn: Connection, owner: str, now: datetime) -> int:
    """Extend every lease `owner` still holds by its own length; returns how many."""
    t = job_lease_table
    held = conn.execute(
        select(t.c.job, t.c.seconds).where(t.c.owner == owner, t.c.until >= now)
    ).all()
    for job, seconds in held:
        conn.execute(
            update(t)
            .where(t.c.job == job, t.c.owner == owner)
            .values(until=now + timedelta(seconds=seconds))
        )
    return len(held)


def release(conn: Connection, owner: str, now: datetime) -> None:
    """A daemon stopping hands its jobs over at once instead of one lease later."""
    t = job_lease_table
    conn.execute(update(t).where(t.c.owner == owner, t.c.until > now).values(until=now))


def live(conn: Connection, now: datetime) -> list[Lease]:
    """Leases not lapsed, daemons' own rows included."""
    t = job_lease_table
    rows = conn.execute(select(t).where(t.c.until >= now).order_by(t.c.job)).mappings()
    return [Lease(r["job"], r["owner"], r["until"], r["taken_at"]) for r in rows]


def fair_share(leases: list[Lease], owner: str, jobs: int) -> bool:
    """Whether `owner` may take one more free job: at most its share of `jobs` among the
    daemons alive now, so that a daemon starting beside others does not take every source."""
    daemons = {lease.owner for lease in leases if lease.job.startswith(DAEMON)} | {owner}
    mine = sum(1 for lease in leases if lease.owner == owner and not lease.job.startswith(DAEMON))
    share = -(-jobs // len(daemons))  # ceiling
    return mine < share
