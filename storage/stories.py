"""Stories: each newly stored article joins an open story or starts one, in the article's write
transaction; and what `monitor stories`, `articles --json`, digests and the web view show of them.

Reads/writes: the story and story_article tables (and reads article/source/article_tag). Every
page, API route and feed of the web view asks its story keys of this module: a story's id, or
for an article stored before stories were kept, its content fingerprint.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, case, func, select, update

from monitor.article import Article
from monitor.judge.stories import Clusterer, Features
from storage.models import (
    article_table,
    article_tag_table,
    source_table,
    story_article_table,
    story_table,
)

_DECISIONS_LOCK = 0x73746F72  # PostgreSQL advisory lock key: one daemon at a time stores articles


def hold_decisions(conn: Connection) -> None:
    """On PostgreSQL, take the turn to store articles and decide their stories until this
    transaction ends: daemons sharing a database then see each other's stories, and the ids of
    articles follow the order of the decisions (the catch-up in assign() relies on it). SQLite's
    write transactions already take turns."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_DECISIONS_LOCK})")


def story_key(story_id: int) -> str:
    """The delivery rows' story key (older rows hold a title-and-opening fingerprint)."""
    return f"story-{story_id}"


def assign(
    conn: Connection, clusterer: Clusterer, new: Sequence[tuple[int, Article]], now: datetime
) -> None:
    """Decide the story of every newly stored article (sets `article.story`), oldest first, so
    a batch holding two outlets' reports of one event makes one story."""
    if not new:
        return
    with clusterer.lock:
        index = clusterer.index
        ordered = sorted(new, key=lambda pair: (pair[1].published_at, pair[0]))
        window = clusterer.settings.window.total_seconds()
        low = ordered[0][1].published_at.timestamp() - window  # older stories are closed
        # By the batch's own dates: a backfill page reads only the stories around its dates.
        high = ordered[-1][1].published_at.timestamp() + window
        if not index.covers(low, high):
            index.reset(low - window, high + window)  # room for the next batches of this walk
        elif index.low < low - window / 2:
            index.evict(low)  # a daemon's index moves on with the clock, a half window at a time
        _catch_up(conn, clusterer)
        members: list[dict[str, Any]] = []
        joined: dict[int, datetime] = {}  # story → the latest publication time joining it
        grew: Counter[int] = Counter()
        for article_id, article in ordered:
            feats = clusterer.features(article)
            evidence = index.decide(feats)
            if evidence.joined and evidence.story is not None:
                story = evidence.story
                thread, anchor = index.thread_of(story), index.anchor_of(story)
                grew[story] += 1
                joined[story] = max(joined.get(story, article.published_at), article.published_at)
            else:  # a new event; one close to an open story continues that story's thread
                close = evidence.story if evidence.thread else None
                related = index.thread_of(close) if close is not None else None
                story = _start(conn, article, now, related)
                thread, anchor = related or story, feats.published
            members.append(
                {"article_id": article_id, "story_id": story, "joined": evidence.joined,
                 "evidence": evidence.to_json(story), "features": feats.to_json()}
            )  # fmt: skip
            index.add(story, thread, anchor, feats)
            index.watermark = max(index.watermark, article_id)
            article.story = story
        # A new story that starts its own thread is its thread: one statement for the batch.
        s = story_table
        conn.execute(update(s).where(s.c.thread_id.is_(None)).values(thread_id=s.c.id))
        if grew:
            conn.execute(_GROW, [
                {"story": story, "more": grew[story], "latest": latest, "now": now}
                for story, latest in joined.items()
            ])  # fmt: skip
        conn.execute(story_article_table.insert(), members)  # executemany: compiled once


_GROW = (
    update(story_table)
    .where(story_table.c.id == bindparam("story"))
    .values(
        size=story_table.c.size + bindparam("more"),
        last_seen_at=bindparam("now"),
        last_published_at=case(
            (story_table.c.last_published_at < bindparam("latest"), bindparam("latest")),
            else_=story_table.c.last_published_at,
        ),
    )
)


def _catch_up(conn: Connection, clusterer: Clusterer) -> None:
    """Load the decisions made since the index last looked (other processes store too)."""
    index = clusterer.index
    sa, s = story_article_table, story_table
    query = (
        select(sa.c.article_id, sa.c.story_id, s.c.thread_id, s.c.first_published_at, sa.c.features)
        .join(s, s.c.id == sa.c.story_id)
        .where(
            sa.c.article_id > index.watermark,
            s.c.first_published_at >= _utc(index.low),
            s.c.first_published_at <= _utc(index.high),
        )
        .order_by(sa.c.article_id)
    )
    for article_id, story, thread, anchor, feats in conn.execute(query):
        index.add(story, thread or story, anchor.timestamp(), Features.of_json(feats))
        index.watermark = max(index.watermark, article_id)
    # Ids below the watermark are all loaded: a later query need only ask past the newest id.
    newest = conn.execute(select(func.max(sa.c.article_id))).scalar()
    index.watermark = max(index.watermark, newest or 0)


def _utc(posix: float) -> datetime:
    bounded = min(max(posix, 0.0), 253402300799.0)  # the reset bounds may be ±inf
    return datetime.fromtimestamp(bounded, UTC)


def _start(conn: Connection, article: Article, now: datetime, thread: int | None) -> int:
    sector = article.relevance_reason.get("primary_sector")
    row = {
        "headline": article.title,
        "sector": sector if isinstance(sector, str) else None,
        "size": 1,
        "thread_id": thread,
        "first_published_at": article.published_at,
        "last_published_at": article.published_at,
        "first_seen_at": now,
        "last_seen_at": now,
    }
    inserted = conn.execute(_START, row).inserted_primary_key
    return int(inserted[0]) if inserted else 0


_START = story_table.insert()


def forget(conn: Connection, article_ids: Sequence[int]) -> None:
    """Articles about to be removed leave their stories; a story left empty stays, with size 0
    and unlisted, so an open story another process still holds in memory can be joined."""
    sa, s = story_article_table, story_table
    ids = list(article_ids)
    touched = {
        story for (story,) in conn.execute(select(sa.c.story_id).where(sa.c.article_id.in_(ids)))
    }
    if not touched:
        return
    conn.execute(sa.delete().where(sa.c.article_id.in_(ids)))
    members = select(func.count()).where(sa.c.story_id == s.c.id).scalar_subquery()
    conn.execute(update(s).where(s.c.id.in_(sorted(touched))).values(size=members))


def stories_of(conn: Connection, article_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Article id → (story id, story size), for the articles that have a story."""
    if not article_ids:
        return {}
    sa, s = story_article_table, story_table
    query = (
        select(sa.c.article_id, s.c.id, s.c.size)
        .join(s, s.c.id == sa.c.story_id)
        .where(sa.c.article_id.in_(list(article_ids)))
    )
    return {article_id: (story, size) for article_id, story, size in conn.execute(query)}


def sizes(conn: Connection, story_ids: Sequence[int]) -> dict[int, int]:
    """Story id → how many articles it holds."""
    if not story_ids:
        return {}
    s = story_table
    query = select(s.c.id, s.c.size).where(s.c.id.in_(sorted(set(story_ids))))
    return {story: size for story, size in conn.execute(query)}


def outlets_of(conn: Connection, story_ids: Sequence[int]) -> dict[int, list[str]]:
    """Story id → the outlets that carried it, in the order they reported it."""
    if not story_ids:
        return {}
    sa, a, src = story_article_table, article_table, source_table
    query = (
        select(sa.c.story_id, src.c.name)
        .join(a, a.c.id == sa.c.article_id)
        .join(src, src.c.id == a.c.source_id)
        .where(sa.c.story_id.in_(list(story_ids)))
        .order_by(a.c.published_at, a.c.id)
    )
    out: dict[int, list[str]] = {}
    for story, name in conn.execute(query):
        names = out.setdefault(story, [])
        if name not in names:
            names.append(name)
    return out


@dataclass(frozen=True)
class StoryArticle:
    id: int
    source: str
    title: str
    url: str
    published_at: datetime
    joined: bool
    evidence: str


@dataclass(frozen=True)
class StorySummary:
    """One story as `monitor stories` lists it."""

    id: int
    headline: str
    sector: str | None
    size: int
    thread: int | None
    first_seen_at: datetime
    last_seen_at: datetime
    first_published_at: datetime
    last_published_at: datetime
    outlets: list[str]
    articles: list[StoryArticle]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "headline": self.headline,
            "sector": self.sector,
            "size": self.size,
            "thread": self.thread,
            "outlets": self.outlets,
            "first_seen_at": _iso(self.first_seen_at),
            "last_seen_at": _iso(self.last_seen_at),
            "first_published_at": _iso(self.first_published_at),
            "last_published_at": _iso(self.last_published_at),
            "articles": [
                {
                    "id": a.id,
                    "source": a.source,
                    "title": a.title,
                    "url": a.url,
                    "published_at": _iso(a.published_at),
                    "joined": a.joined,
                    "evidence": a.evidence,
                }
                for a in self.articles
            ],
        }


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def list_stories(
    conn: Connection,
    *,
    since: datetime | None = None,
    sector: str | None = None,
    limit: int = 50,
) -> list[StorySummary]:
    """Stories newest first (by their latest article), each with its outlets and articles.
    `sector`: stories with an article tagged so."""
    s, sa, a, src = story_table, story_article_table, article_table, source_table
    query = (
        select(s)
        .where(s.c.size > 0)
        .order_by(s.c.last_published_at.desc(), s.c.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(s.c.last_published_at >= since)
    if sector:
        t = article_tag_table
        tagged = (
            select(sa.c.story_id)
            .join(t, t.c.article_id == sa.c.article_id)
            .where(and_(t.c.sector == sector, sa.c.story_id == s.c.id))
        )
        query = query.where(tagged.exists())
    rows = conn.execute(query).mappings().all()
    members: dict[int, list[StoryArticle]] = {r["id"]: [] for r in rows}
    if members:
        for r in conn.execute(
            select(
                sa.c.story_id,
                sa.c.joined,
                sa.c.evidence,
                a.c.id,
                a.c.title,
                a.c.url,
                a.c.published_at,
                src.c.name,
            )
            .join(a, a.c.id == sa.c.article_id)
            .join(src, src.c.id == a.c.source_id)
            .where(sa.c.story_id.in_(list(members)))
            .order_by(a.c.published_at, a.c.id)
        ).mappings():
            members[r["story_id"]].append(
                StoryArticle(
                    id=r["id"],
                    source=r["name"],
                    title=r["title"],
                    url=r["url"],
                    published_at=r["published_at"],
                    joined=bool(r["joined"]),
                    evidence=str((r["evidence"] or {}).get("text", "")),
                )
            )
    return [
        StorySummary(
            id=r["id"],
            headline=r["headline"],
            sector=r["sector"],
            size=r["size"],
            thread=r["thread_id"],
            first_seen_at=r["first_seen_at"],
            last_seen_at=r["last_seen_at"],
            first_published_at=r["first_published_at"],
            last_published_at=r["last_published_at"],
            outlets=list(dict.fromkeys(m.source for m in members[r["id"]])),
            articles=members[r["id"]],
        )
        for r in rows
    ]


# --- the web view's story keys ------------------------------------------------------------


@dataclass(frozen=True)
class StoryMember:
    article_id: int
    source: str
    outlet: str  # the source's name
    title: str
    url: str
    published_at: datetime


def _story_id(key: str) -> int | None:
    """A story id key ("42"); None for a fingerprint key (32 hex digits)."""
    return int(key) if key.isdigit() and len(key) < 19 else None


def story_filter(key: str) -> ColumnElement[bool]:
    """The articles of the story with this key (a WHERE clause on the article table)."""
    a, sa = article_table, story_article_table
    story = _story_id(key)
    if story is None:  # stored before stories were kept: the same title and opening text
        return a.c.fingerprint == key
    return a.c.id.in_(select(sa.c.article_id).where(sa.c.story_id == story))


def story_of(conn: Connection, article_id: int) -> tuple[str | None, list[StoryMember]]:
    """The story key of an article and its articles in every outlet, oldest first (the
    article alone when it has no key)."""
    a, sa = article_table, story_article_table
    story = conn.execute(select(sa.c.story_id).where(sa.c.article_id == article_id)).scalar()
    key = (
        str(story)
        if story is not None
        else conn.execute(select(a.c.fingerprint).where(a.c.id == article_id)).scalar()
    )
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
    a, sa = article_table, story_article_table
    latest = func.max(a.c.published_at)
    ids = [
        story
        for (story,) in conn.execute(
            select(sa.c.story_id)
            .join(a, a.c.id == sa.c.article_id)
            .group_by(sa.c.story_id)
            .having(func.count(func.distinct(a.c.source_id)) > 1, latest >= since)
            .order_by(latest.desc())
            .limit(limit)
        )
    ]
    return [(str(story), story_members(conn, str(story))) for story in ids]
