"""The alert outbox: deliveries written with their article, claimed, sent, retried, logged.

Reads/writes: the delivery and operator_notice tables (and reads article/source for rendering).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any, Self

from sqlalchemy import Connection, and_, func, or_, select, update

from monitor.article import DeliveryMode, DeliveryState
from storage.db import insert_for
from storage.models import (
    article_table,
    article_tag_table,
    delivery_table,
    operator_notice_table,
    source_table,
)

ACTIVE = ("pending", "sending", "sent")


@dataclass(frozen=True)
class DeliveryRow:
    """One outbox row: an article for one subscriber's destination."""

    id: int
    subscriber: str
    destination: str
    channel: str
    article_id: int
    mode: DeliveryMode
    state: DeliveryState
    story: str | None
    rules: list[str]
    why: list[str]
    reason: str | None
    created_at: datetime
    due_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    claimed_at: datetime | None
    claimed_by: str | None
    lease_until: datetime | None
    unknown: int
    sent_at: datetime | None
    last_error: str | None
    message_id: str | None

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> Self:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class LoggedDelivery(DeliveryRow):
    """A delivery as `monitor alerts log` shows it: with its article's title."""

    title: str = ""


@dataclass(frozen=True)
class AlertedArticle:
    """What an alert shows of one stored article."""

    id: int
    title: str
    url: str
    published_at: datetime
    summary: str
    text: str
    relevance_reason: dict[str, Any]
    fingerprint: str | None
    source_name: str
    sectors: list[str]


def insert_deliveries(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert-or-ignore on (subscriber, destination, article): an article never reaches a
    destination twice, however often it is planned."""
    if not rows:
        return 0
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT DO NOTHING.
    stmt = insert_for(conn, delivery_table).on_conflict_do_nothing().returning(delivery_table.c.id)
    return len(conn.execute(stmt, list(rows)).all())  # executemany: compiled once


def stories_alerted(
    conn: Connection, wanted: Iterable[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    """Which (subscriber, destination, story) already have an immediate alert, in one query."""
    asked = set(wanted)
    if not asked:
        return set()
    d = delivery_table
    query = select(d.c.subscriber, d.c.destination, d.c.story).where(
        d.c.story.in_(sorted({story for _, _, story in asked})),
        d.c.mode == "immediate",
        d.c.state.in_(ACTIVE),
    )
    found = {(sub, dest, story) for sub, dest, story in conn.execute(query)}
    return found & asked


def claim_due(
    conn: Connection,
    now: datetime,
    owner: str,
    lease: timedelta,
    *,
    dead_owners: Collection[str] = (),
    limit: int = 500,
) -> list[DeliveryRow]:
    """Claim due deliveries for `owner` until now + lease and return them (inside a write
    transaction, which makes the claim atomic).

    Due: pending rows whose time has come, and rows still 'sending' whose claim lapsed or whose
    owner is known dead (a crash mid-dispatch). A taken-over row may already have been sent by
    its dead owner: its `unknown` count goes up, so it is sent again at most once.
    """
    d = delivery_table
    pending = and_(
        d.c.state == "pending",
        d.c.due_at <= now,
        or_(d.c.next_attempt_at.is_(None), d.c.next_attempt_at <= now),
    )
    lapsed = and_(
        d.c.state == "sending",
        or_(d.c.lease_until.is_(None), d.c.lease_until < now, d.c.claimed_by.in_(dead_owners)),
    )
    query = select(d).where(or_(pending, lapsed)).order_by(d.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = [DeliveryRow.of(r) for r in conn.execute(query).mappings()]
    if not rows:
        return []
    taken_over = [r.id for r in rows if r.state == "sending"]
    conn.execute(
        update(d)
        .where(d.c.id.in_([r.id for r in rows]))
        .values(state="sending", claimed_at=now, claimed_by=owner, lease_until=now + lease)
    )
    if taken_over:
        conn.execute(update(d).where(d.c.id.in_(taken_over)).values(unknown=d.c.unknown + 1))
    return [
        replace(r, unknown=r.unknown + (r.state == "sending"), state="sending", claimed_by=owner)
        for r in rows
    ]


def renew(conn: Connection, ids: Sequence[int], owner: str, until: datetime) -> set[int]:
    """Extend owner's claims before a send; returns the ids still held (a lapsed claim may
    have been taken over by another process, which then sends it instead)."""
    d = delivery_table
    held = and_(d.c.id.in_(list(ids)), d.c.state == "sending", d.c.claimed_by == owner)
    conn.execute(update(d).where(held).values(lease_until=until))
    return {row_id for (row_id,) in conn.execute(select(d.c.id).where(held))}


def claim_owners(conn: Connection) -> set[str]:
    """Owners of claims still open ('sending'): to find claims of processes that died."""
    d = delivery_table
    query = select(d.c.claimed_by).where(d.c.state == "sending", d.c.claimed_by.is_not(None))
    return {owner for (owner,) in conn.execute(query.distinct())}


def release_ids(conn: Connection, ids: Sequence[int]) -> None:
    """Put claimed deliveries back without counting an attempt (their turn comes later)."""
    d = delivery_table
    conn.execute(
        update(d)
        .where(d.c.id.in_(list(ids)))
        .values(state="pending", claimed_at=None, claimed_by=None, lease_until=None)
    )


def mark_sent(conn: Connection, ids: Sequence[int], now: datetime, message_id: str) -> None:
    d = delivery_table
    conn.execute(
        update(d)
        .where(d.c.id.in_(list(ids)))
        .values(
            state="sent",
            sent_at=now,
            message_id=message_id,
            last_error=None,
            claimed_by=None,
            lease_until=None,
        )
    )


def mark_failed(
    conn: Connection,
    ids: Sequence[int],
    *,
    error: str,
    next_attempt_at: datetime | None,
    final: bool,
    unknown: bool = False,
) -> None:
    """A failed send: back to pending with a later attempt time, or 'failed' for good.
    `unknown`: the provider may have taken the message (a timeout after it was sent)."""
    d = delivery_table
    conn.execute(
        update(d)
        .where(d.c.id.in_(list(ids)))
        .values(
            state="failed" if final else "pending",
            attempts=d.c.attempts + 1,
            unknown=d.c.unknown + int(unknown),
            last_error=error,
            next_attempt_at=next_attempt_at,
            claimed_at=None,
            claimed_by=None,
            lease_until=None,
        )
    )


def items_for(conn: Connection, article_ids: Sequence[int]) -> dict[int, AlertedArticle]:
    """What alerts show of each article: title, link, date, outlet name, summary, sectors."""
    a, s, t = article_table, source_table, article_tag_table
    rows = conn.execute(
        select(
            a.c.id,
            a.c.title,
            a.c.url,
            a.c.published_at,
            a.c.summary,
            a.c.text,
            a.c.relevance_reason,
            a.c.fingerprint,
            s.c.name.label("source_name"),
        )
        .join(s, s.c.id == a.c.source_id)
        .where(a.c.id.in_(list(article_ids)))
    ).mappings()
    found = {r["id"]: dict(r) for r in rows}
    sectors: dict[int, list[str]] = {article_id: [] for article_id in found}
    for article_id, sector in conn.execute(
        select(t.c.article_id, t.c.sector).where(t.c.article_id.in_(list(article_ids)))
    ):
        sectors[article_id].append(sector)
    return {i: AlertedArticle(**r, sectors=sorted(sectors[i])) for i, r in found.items()}


def story_outlets(conn: Connection, fingerprints: Sequence[str]) -> dict[str, list[str]]:
    """Every outlet that carried each story (same opening text), for digests."""
    if not fingerprints:
        return {}
    a, s = article_table, source_table
    out: dict[str, list[str]] = {}
    for fp, name in conn.execute(
        select(a.c.fingerprint, s.c.name)
        .join(s, s.c.id == a.c.source_id)
        .where(a.c.fingerprint.in_(list(fingerprints)))
        .distinct()
    ):
        out.setdefault(fp, []).append(name)
    return out


def delivery_log(
    conn: Connection, *, subscriber: str | None = None, state: str | None = None, limit: int = 100
) -> list[LoggedDelivery]:
    d, a = delivery_table, article_table
    query = (
        select(d, a.c.title).join(a, a.c.id == d.c.article_id).order_by(d.c.id.desc()).limit(limit)
    )
    if subscriber:
        query = query.where(d.c.subscriber == subscriber)
    if state:
        query = query.where(d.c.state == state)
    return [LoggedDelivery.of(r) for r in conn.execute(query).mappings()]


def open_incident(conn: Connection, key: str, now: datetime) -> bool:
    """True when the incident `key` was not open yet (the operator is to be told it started)."""
    o = operator_notice_table
    stmt = insert_for(conn, o).values(key=key, sent_at=now).on_conflict_do_nothing()
    return conn.execute(stmt.returning(o.c.key)).first() is not None


def close_incident(conn: Connection, key: str) -> datetime | None:
    """Ends the incident `key`; returns when it was opened, or None if none was open."""
    o = operator_notice_table
    opened = conn.execute(select(o.c.sent_at).where(o.c.key == key)).scalar()
    if opened is not None:
        conn.execute(o.delete().where(o.c.key == key))
    return opened


def count_pending(conn: Connection) -> int:
    """Deliveries not yet sent: waiting (for their time, a retry or a digest) or being sent."""
    d = delivery_table
    query = select(func.count()).select_from(d).where(d.c.state.in_(("pending", "sending")))
    return int(conn.execute(query).scalar_one())
