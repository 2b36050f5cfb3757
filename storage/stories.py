"""Which stored articles are one story: today the same content fingerprint across outlets.

Reads: the article and source tables. Writes: nothing. Story clustering (issue 16) replaces the
key here, and only here: every page, API route and feed asks the functions of this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from storage.models import article_table, source_table


@dataclass(frozen=True)
class StoryMember:
    article_id: int
    source: str
    outlet: str  # the source's name
    title: str
    url: str
    published_at: datetime


def story_filter(key: str) -> ColumnElement[bool]:
    """The articles of the story with this key (a WHERE clause on the article table)."""
    return article_table.c.fingerprint == key


def story_of(conn: Connection, article_id: int) -> tuple[str | None, list[StoryMember]]:
    """The story key of an article and its articles in every outlet, oldest first (the
    article alone when it has no key)."""
    a = article_table
    key = conn.execute(select(a.c.fingerprint).where(a.c.id == article_id)).scalar()
    return key, _members(conn, story_filter(key) if key else a.c.id == article_id)


def story_members(conn: Connection, key: str) -> list[StoryMember]:
    """The articles of the story with this key, oldest first ([] for an unknown key)."""
    return _members(conn, story_filter(key))


def _members(conn: Connection, where: Any) -> list[StoryMember]:
    a, s = article_table, source_table
    rows = conn.execute(
        select(a.c.id, a.c.source_id, s.c.name, a.c.title, a.c.url, a.c.published_at)
        .join(s, s.c.id == a.c.source_id)
        .where(where)
        .order_by(a.c.published_at, a.c.id)
        .limit(100)
    )
    return [StoryMember(*row) for row in rows]


def recent_stories(
    conn: Connection, since: datetime, limit: int = 50
) -> list[tuple[str, list[StoryMember]]]:
    """Stories carried by more than one outlet with an article published since `since`,
    the latest first: each its key and its articles, oldest first."""
    a = article_table
    keys = [
        key
        for (key,) in conn.execute(
            select(a.c.fingerprint)
            .where(a.c.published_at >= since, a.c.fingerprint.is_not(None))
            .group_by(a.c.fingerprint)
            .having(func.count(func.distinct(a.c.source_id)) > 1)
            .order_by(func.max(a.c.published_at).desc())
            .limit(limit)
        )
    ]
    members: dict[str, list[StoryMember]] = {key: [] for key in keys}
    rows = conn.execute(
        select(a.c.fingerprint, a.c.id, a.c.source_id, source_table.c.name, a.c.title, a.c.url)
        .add_columns(a.c.published_at)
        .join(source_table, source_table.c.id == a.c.source_id)
        .where(a.c.fingerprint.in_(keys))
        .order_by(a.c.published_at, a.c.id)
    )
    for key, *member in rows:
        members[key].append(StoryMember(*member))
    return [(key, members[key]) for key in keys]
