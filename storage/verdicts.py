"""Stored verdicts, for `monitor rejudge`: the stored articles to judge again, their new verdicts,
and the remembered irrelevant keys judged under other rules.

Reads/writes: the article, article_tag and seen_item tables, and story memberships (deleting an
article also removes its tags, its deliveries and its full-text row, through the schema's
cascades and triggers).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, delete, func, or_, select

from monitor.article import Article
from storage import articles, stories
from storage.models import article_table, article_tag_table, seen_table

_BATCH = 400


@dataclass(frozen=True)
class StoredVerdict:
    id: int
    key: str  # the URL key
    article: Article  # as stored: text, relevance, reason and sectors
    primary: str | None


def stored(conn: Connection, since: datetime | None = None) -> Iterator[StoredVerdict]:
    """Stored articles published at or after `since`, oldest first, with their current tags."""
    a = article_table
    query = select(a).order_by(a.c.published_at, a.c.id)
    if since is not None:
        query = query.where(a.c.published_at >= since)
    for chunk in conn.execute(query).mappings().partitions(_BATCH):
        tags = articles.tags_for(conn, [r["id"] for r in chunk])
        for r in chunk:
            reason = dict(r["relevance_reason"] or {})
            sectors = dict(sorted(tags.get(r["id"], {}).items()))
            yield StoredVerdict(
                id=r["id"],
                key=r["url_hash"],
                primary=reason.get("primary_sector"),
                article=articles.stored_article(r, reason, sectors),
            )


def update_verdict(conn: Connection, article_id: int, article: Article) -> None:
    """The new score, reason and tags of a stored article that stays relevant."""
    a, t = article_table, article_tag_table
    conn.execute(
        a.update()
        .where(a.c.id == article_id)
        .values(relevance=article.relevance, relevance_reason=article.relevance_reason)
    )
    conn.execute(delete(t).where(t.c.article_id == article_id))
    if article.sectors:
        conn.execute(
            t.insert(),
            [
                {"article_id": article_id, "sector": sector, "terms": terms}
                for sector, terms in article.sectors.items()
            ],
        )


def drop(conn: Connection, ids: Sequence[int]) -> None:
    """Remove stored articles the rules no longer keep (with their tags, deliveries and story
    memberships)."""
    for start in range(0, len(ids), _BATCH):
        chunk = list(ids[start : start + _BATCH])
        stories.forget(conn, chunk)
        conn.execute(delete(article_tag_table).where(article_tag_table.c.article_id.in_(chunk)))
        conn.execute(delete(article_table).where(article_table.c.id.in_(chunk)))


def _stale(rules_hash: str, since: datetime | None) -> ColumnElement[bool]:
    seen = seen_table
    condition = and_(
        seen.c.verdict == "irrelevant",
        or_(seen.c.rules_hash.is_(None), seen.c.rules_hash != rules_hash),
    )
    if since is not None:
        condition = and_(condition, seen.c.last_seen_at >= since)
    return condition


def stale_irrelevant(conn: Connection, rules_hash: str, since: datetime | None = None) -> int:
    """Remembered irrelevant keys judged under other rules (only their URL key is kept)."""
    return int(
        conn.execute(
            select(func.count()).select_from(seen_table).where(_stale(rules_hash, since))
        ).scalar_one()
    )


def forget_stale(conn: Connection, rules_hash: str, since: datetime | None = None) -> int:
    """Forget them: the next poll or crawl that meets one of these entries judges it again."""
    return int(conn.execute(delete(seen_table).where(_stale(rules_hash, since))).rowcount)
