"""What the web view reads beyond article lists: one article whole, its alerts, weekly counts.

Reads: the article, article_tag, delivery and source tables. Writes: nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from storage.models import article_table, article_tag_table, delivery_table, source_table


@dataclass(frozen=True)
class ArticleText:
    text: str
    categories: list[str]
    language: str | None


def article_text(conn: Connection, article_id: int) -> ArticleText | None:
    a = article_table
    row = conn.execute(
        select(a.c.text, a.c.categories, a.c.language).where(a.c.id == article_id)
    ).first()
    return ArticleText(row[0], list(row[1]), row[2]) if row else None


@dataclass(frozen=True)
class ArticleAlert:
    """What one subscriber got for an article: never the destination (it may hold a secret)."""

    subscriber: str
    mode: str
    state: str
    reason: str | None
    rules: list[str]
    created_at: datetime
    sent_at: datetime | None


def article_alerts(conn: Connection, article_id: int) -> list[ArticleAlert]:
    """One line per subscriber × mode × state (a subscriber with two destinations is one)."""
    d = delivery_table
    rows = conn.execute(
        select(d.c.subscriber, d.c.mode, d.c.state, d.c.reason, d.c.rules, d.c.created_at)
        .add_columns(d.c.sent_at)
        .where(d.c.article_id == article_id)
        .order_by(d.c.subscriber, d.c.mode, d.c.state, d.c.id)
        .limit(1000)
    )
    out: dict[tuple[str, str, str], ArticleAlert] = {}
    for subscriber, mode, state, reason, rules, created, sent in rows:
        seen = out.get((subscriber, mode, state))
        if seen is None:
            out[(subscriber, mode, state)] = ArticleAlert(
                subscriber, mode, state, reason, list(rules), created, sent
            )
        elif sent is not None and (seen.sent_at is None or sent > seen.sent_at):
            out[(subscriber, mode, state)] = ArticleAlert(
                subscriber, mode, state, reason, seen.rules, seen.created_at, sent
            )
    return list(out.values())


def outlet_names(conn: Connection) -> dict[str, str]:
    s = source_table
    return {sid: name for sid, name in conn.execute(select(s.c.id, s.c.name))}


def _week_start(conn: Connection, column: Any) -> Any:
    """The Monday starting the week of a timestamp, as a date ('YYYY-MM-DD' on SQLite)."""
    if conn.dialect.name == "sqlite":
        return func.date(column, "weekday 0", "-6 days")
    return func.date(func.date_trunc("week", column))


def weekly_by_sector(
    conn: Connection, since: datetime, until: datetime, source: str | None = None
) -> dict[str, dict[date, int]]:
    """Sector → week (its Monday) → articles published that week, in [since, until)."""
    a, t = article_table, article_tag_table
    week = _week_start(conn, a.c.published_at)
    query = (
        select(t.c.sector, week, func.count())
        .join(a, a.c.id == t.c.article_id)
        .where(a.c.published_at >= since, a.c.published_at < until)
        .group_by(t.c.sector, week)
    )
    if source:
        query = query.where(a.c.source_id == source)
    return _nest(conn.execute(query))


def weekly_by_outlet(
    conn: Connection, since: datetime, until: datetime
) -> dict[str, dict[date, int]]:
    """Source id → week (its Monday) → articles published that week, in [since, until)."""
    a = article_table
    week = _week_start(conn, a.c.published_at)
    query = (
        select(a.c.source_id, week, func.count())
        .where(a.c.published_at >= since, a.c.published_at < until)
        .group_by(a.c.source_id, week)
    )
    return _nest(conn.execute(query))


def _nest(rows: Any) -> dict[str, dict[date, int]]:
    out: dict[str, dict[date, int]] = {}
    for key, week, count in rows:
        day = week if isinstance(week, date) else date.fromisoformat(str(week))
        out.setdefault(key, {})[day] = int(count)
    return out
