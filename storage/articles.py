"""Article storage: decides what is new (insert-or-ignore on the unique keys) and answers queries.

Reads/writes: the article, article_tag, seen_item and article_fts tables (and reads each
article's story).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    column,
    delete,
    func,
    or_,
    select,
    text,
)
from sqlalchemy import table as sa_table

from monitor.article import Article
from monitor.collect.canonical import url_hash
from monitor.judge.rules import Query
from storage.db import insert_for as _insert
from storage.fulltext import PG_DOCUMENT, fts5, tsquery
from storage.models import article_table, article_tag_table, seen_table
from storage.stories import stories_of, story_filter

_BATCH = 400  # rows per INSERT: well under SQLite's bound-parameter limit


@dataclass
class Known:
    """What storage already knows about a batch's keys."""

    stored: dict[str, tuple[int, int]] = field(default_factory=dict)  # key → (id, text length)
    duplicate: set[str] = field(default_factory=set)  # same story as a stored one, other key
    refused: set[str] = field(default_factory=set)  # pages refused as pathological: never fetched
    irrelevant: dict[str, bool] = field(default_factory=dict)  # key → judged on full text
    published: dict[str, datetime] = field(default_factory=dict)  # stored key → its date


def known_keys(conn: Connection, source_id: str, keys: Sequence[str], rules_hash: str) -> Known:
    """Look up a batch of URL keys in one or two queries per 400 keys."""
    known = Known()
    seen = seen_table
    a = article_table
    for start in range(0, len(keys), _BATCH):
        chunk = list(keys[start : start + _BATCH])
        for key, row_id, length, published in conn.execute(
            select(a.c.url_hash, a.c.id, func.length(a.c.text), a.c.published_at).where(
                a.c.url_hash.in_(chunk)
            )
        ):
            known.stored[key] = (row_id, length or 0)
            known.published[key] = published
        for key, verdict, full in conn.execute(
            select(seen.c.key, seen.c.verdict, seen.c.full_text).where(
                seen.c.source_id == source_id,
                seen.c.key.in_(chunk),
                or_(seen.c.verdict.in_(("duplicate", "refused")), seen.c.rules_hash == rules_hash),
            )
        ):
            if verdict == "duplicate":
                known.duplicate.add(key)
            elif verdict == "refused":
                known.refused.add(key)
            else:
                known.irrelevant[key] = bool(full)
    return known


def settled(
    conn: Connection, source_id: str, keys: Sequence[str], rules_hash: str
) -> dict[str, datetime | None]:
    """The keys whose pages need no fetch: stored with text, or judged on their full text (as
    duplicate or irrelevant). Values: the publication date of those stored as articles."""
    known = known_keys(conn, source_id, keys, rules_hash)
    out: dict[str, datetime | None] = {k: None for k in known.duplicate | known.refused}
    out.update({k: None for k, full in known.irrelevant.items() if full})
    out.update({k: known.published[k] for k, (_, length) in known.stored.items() if length > 0})
    return out


def update_text(conn: Connection, article_id: int, article: Article, now: datetime) -> None:
    """A fuller version of a stored article: new text, re-tagged; it stays the same article."""
    a = article_table
    values: dict[str, Any] = {"text": article.text, "updated_at": now}
    reason = article.relevance_reason
    if reason.get("relevant", reason.get("rule") in ("bilateral", "near")):
        values.update(relevance=article.relevance, relevance_reason=article.relevance_reason)
    if article.author:
        values["author"] = article.author
    conn.execute(a.update().where(a.c.id == article_id).values(**values))
    if article.sectors:
        t = article_tag_table
        conn.execute(delete(t).where(t.c.article_id == article_id))
        conn.execute(
            t.insert(),
            [
                {"article_id": article_id, "sector": sector, "terms": terms}
                for sector, terms in article.sectors.items()
            ],
        )


def insert_articles(
    conn: Connection, articles: Sequence[Article], ingest_mode: str = "live"
) -> list[tuple[int, Article]]:
    """Insert-or-ignore; return (id, article) for the rows that were really new, with their tags."""
    if not articles:
        return []
    by_hash = {url_hash(a.url): a for a in articles}
    rows = [_row(key, a, ingest_mode) for key, a in by_hash.items()]
    # One statement for the whole batch, compiled once per process: SQLAlchemy sends it as a
    # few multi-row INSERTs and collects what RETURNING gives back for the rows really inserted.
    stmt = (
        _insert(conn, article_table)
        .on_conflict_do_nothing()
        .returning(article_table.c.id, article_table.c.url_hash)
    )
    new = [(row_id, by_hash[key]) for row_id, key in conn.execute(stmt, rows)]
    tags = [
        {"article_id": row_id, "sector": sector, "terms": terms}
        for row_id, article in new
        for sector, terms in article.sectors.items()
    ]
    if tags:
        conn.execute(article_tag_table.insert(), tags)
    new.sort(key=lambda pair: pair[0])
    return new


def _row(key: str, a: Article, ingest_mode: str) -> dict[str, Any]:
    return {
        "source_id": a.source_id,
        "url": a.url,
        "url_hash": key,
        "original_url": a.original_url,
        "guid": a.guid,
        "fingerprint": a.fingerprint or None,
        "title": a.title,
        "summary": a.summary,
        "text": a.text,
        "author": a.author,
        "published_at": a.published_at,
        "published_from_source": a.published_from_source,
        "first_seen_at": a.first_seen_at,
        "categories": a.categories,
        "language": a.language,
        "relevance": a.relevance,
        "relevance_reason": a.relevance_reason,
        "ingest_mode": ingest_mode,
    }


def remember(
    conn: Connection,
    source_id: str,
    keys: Iterable[str],
    verdict: str,
    rules_hash: str | None,
    now: datetime,
    full_text: Iterable[str] = (),
) -> None:
    """Record keys judged irrelevant (under rules_hash) or duplicate, or refresh when seen again."""
    full = set(full_text)
    rows = [
        {
            "source_id": source_id,
            "key": key,
            "verdict": verdict,
            "rules_hash": rules_hash,
            "full_text": key in full,
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for key in set(keys)
    ]
    if not rows:
        return
    stmt = _insert(conn, seen_table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["source_id", "key"],
        set_={
            "verdict": stmt.excluded.verdict,
            "rules_hash": stmt.excluded.rules_hash,
            "full_text": stmt.excluded.full_text,
            "last_seen_at": stmt.excluded.last_seen_at,
        },
    )
    conn.execute(stmt, rows)  # executemany: compiled once


@dataclass(frozen=True)
class StoredArticle:
    id: int
    source: str
    url: str
    title: str
    summary: str
    author: str | None
    published_at: datetime
    first_seen_at: datetime
    relevance: float
    relevance_reason: dict[str, Any]
    matched: dict[str, list[str]]
    ingest_mode: str = "live"
    story: int | None = None  # None: stored before stories were kept
    story_size: int | None = None

    @property
    def sectors(self) -> list[str]:
        return sorted(self.matched)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "url": self.url,
            "title": self.title,
            "summary": self.summary,
            "author": self.author,
            "published_at": _iso(self.published_at),
            "first_seen_at": _iso(self.first_seen_at),
            "sectors": self.sectors,
            "relevance": self.relevance,
            "relevance_reason": self.relevance_reason,
            "matched": self.matched,
            "ingest_mode": self.ingest_mode,
            "story": self.story,
            "story_size": self.story_size,
        }


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def list_articles(
    conn: Connection,
    *,
    sources: Sequence[str] = (),
    sector: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: Query | None = None,
    story: str | None = None,
    by_relevance: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[StoredArticle]:
    """Newest first (or, with a search and by_relevance, best match first), filtered; `search`
    is a query in the rule language, answered by the database's full-text index over title,
    summary and text (SearchError if it cannot be); `story` is a story key (stories.py)."""
    table = article_table
    query = select(table).limit(limit).offset(offset)
    if sources:
        query = query.where(table.c.source_id.in_(list(sources)))
    if since is not None:
        query = query.where(table.c.published_at >= since)
    if until is not None:
        query = query.where(table.c.published_at < until)
    if story is not None:
        query = query.where(story_filter(story))
    if sector:
        tags = article_tag_table
        query = query.where(
            select(tags.c.article_id)
            .where(and_(tags.c.article_id == table.c.id, tags.c.sector == sector))
            .exists()
        )
    if search and by_relevance:
        filtered = bool(sources or sector or since or until or story)
        query = _ranked(conn, query, search, best=None if filtered else offset + limit)
    else:
        if search:
            query = query.where(_matching(conn, search))
        query = query.order_by(table.c.published_at.desc(), table.c.id.desc())
    return _stored(conn, conn.execute(query).mappings().all())


def article_by_id(conn: Connection, article_id: int) -> StoredArticle | None:
    found = _stored(
        conn,
        conn.execute(select(article_table).where(article_table.c.id == article_id))
        .mappings()
        .all(),
    )
    return found[0] if found else None


def _stored(conn: Connection, rows: Sequence[Any]) -> list[StoredArticle]:
    matched = tags_for(conn, [r["id"] for r in rows])
    story = stories_of(conn, [r["id"] for r in rows])
    return [
        StoredArticle(
            id=r["id"],
            source=r["source_id"],
            url=r["url"],
            title=r["title"],
            summary=r["summary"],
            author=r["author"],
            published_at=r["published_at"],
            first_seen_at=r["first_seen_at"],
            relevance=r["relevance"],
            relevance_reason=r["relevance_reason"],
            matched=matched.get(r["id"], {}),
            ingest_mode=r["ingest_mode"],
            story=story[r["id"]][0] if r["id"] in story else None,
            story_size=story[r["id"]][1] if r["id"] in story else None,
        )
        for r in rows
    ]


_FTS = sa_table("article_fts", column("rowid"), column("rank"))


def _ranked(
    conn: Connection, query: Select[Any], search: Query, *, best: int | None
) -> Select[Any]:
    """Best match first: FTS5's bm25 rank, newest first among equals. best: with no other
    filter, FTS5 keeps only that many best matches itself (half the time of joining them all)."""
    table = article_table
    if conn.dialect.name == "postgresql":
        document = text(f"{PG_DOCUMENT} @@ to_tsquery('simple', :q)").bindparams(q=tsquery(search))
        rank = text(f"ts_rank({PG_DOCUMENT}, to_tsquery('simple', :r)) DESC").bindparams(
            r=tsquery(search)
        )
        return query.where(document).order_by(rank, table.c.published_at.desc(), table.c.id.desc())
    if best is not None:
        top = (
            text(
                "SELECT rowid, rank FROM article_fts WHERE article_fts MATCH :q "
                "ORDER BY rank LIMIT :n"
            )
            .bindparams(q=fts5(search), n=best)
            .columns(column("rowid"), column("rank"))
            .subquery("best")
        )
        return query.join(top, top.c.rowid == table.c.id).order_by(
            top.c.rank, table.c.published_at.desc(), table.c.id.desc()
        )
    match = text("article_fts MATCH :q").bindparams(q=fts5(search))
    return (
        query.join(_FTS, _FTS.c.rowid == table.c.id)
        .where(match)
        .order_by(_FTS.c.rank, table.c.published_at.desc(), table.c.id.desc())
    )


# A search matching at least this many articles is answered newest first by walking the date
# index and testing each article against the set of matches (about a page's worth / density
# rows); a rarer one by looking its few matches up. Looking up 100,000 matches to keep the
# newest 20 costs a fifth of a second on 1,000,000 articles, the walk ~15 ms (bench/web_bench.py).
_COMMON = 5000


def _matching(conn: Connection, query: Query) -> Any:
    """The WHERE clause of a search: the articles the full-text index finds for the query."""
    ids = _search_ids(conn, query)
    if conn.dialect.name != "sqlite":
        return article_table.c.id.in_(ids)  # PostgreSQL's planner weighs the GIN index itself
    counted = select(func.count()).select_from(
        text("(SELECT rowid FROM article_fts WHERE article_fts MATCH :q LIMIT :n)")
        .bindparams(q=fts5(query), n=_COMMON)
        .columns(column("rowid"))
        .subquery()
    )
    if conn.execute(counted).scalar_one() < _COMMON:
        return article_table.c.id.in_(ids)
    # "+ 0" keeps the planner from looking every match up by id: it walks the date index of
    # the ORDER BY instead and stops after a page.
    return (article_table.c.id + 0).in_(ids)


def _search_ids(conn: Connection, query: Query) -> Any:
    if conn.dialect.name == "postgresql":
        return text(
            f"SELECT id FROM article WHERE {PG_DOCUMENT} @@ to_tsquery('simple', :q)"
        ).bindparams(q=tsquery(query))
    match = fts5(query)
    return text("SELECT rowid FROM article_fts WHERE article_fts MATCH :q").bindparams(q=match)


def tags_for(conn: Connection, ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """article id → sector → the terms that tagged it, for these articles."""
    if not ids:
        return {}
    tags = article_tag_table
    out: dict[int, dict[str, list[str]]] = {}
    for article_id, sector, terms in conn.execute(
        select(tags.c.article_id, tags.c.sector, tags.c.terms).where(tags.c.article_id.in_(ids))
    ):
        out.setdefault(article_id, {})[sector] = list(terms)
    return out


def count_by_source(conn: Connection, since: datetime | None = None) -> dict[str, int]:
    table = article_table
    query = select(table.c.source_id, func.count()).group_by(table.c.source_id)
    if since is not None:
        query = query.where(table.c.first_seen_at >= since)
    return {source: count for source, count in conn.execute(query)}


def prune_seen(conn: Connection, before: datetime) -> int:
    """Forget keys not seen since `before`; one that reappears is simply judged again."""
    seen = seen_table
    return int(conn.execute(delete(seen).where(seen.c.last_seen_at < before)).rowcount)


def iter_articles(
    conn: Connection, since: datetime | None = None, search: Query | None = None
) -> Iterator[Article]:
    """Stored articles as pipeline Articles (newest first), e.g. to replay rules on history;
    `search` narrows them first through the full-text index (SearchError if it cannot)."""
    a = article_table
    query = select(a).order_by(a.c.published_at.desc(), a.c.id.desc())
    if since is not None:
        query = query.where(a.c.published_at >= since)
    if search is not None:
        query = query.where(a.c.id.in_(_search_ids(conn, search)))
    for chunk in conn.execute(query).mappings().partitions(500):
        tags = tags_for(conn, [r["id"] for r in chunk])
        story = stories_of(conn, [r["id"] for r in chunk])
        for r in chunk:
            yield stored_article(
                r,
                r["relevance_reason"],
                tags.get(r["id"], {}),
                story[r["id"]][0] if r["id"] in story else None,
            )


def stored_article(
    row: Any,
    reason: dict[str, Any],
    sectors: dict[str, list[str]],
    story: int | None = None,
) -> Article:
    """A pipeline Article from an article row (its tags and story read beside it)."""
    return Article(
        source_id=row["source_id"],
        url=row["url"],
        original_url=row["original_url"],
        guid=row["guid"],
        title=row["title"],
        summary=row["summary"],
        text=row["text"],
        author=row["author"],
        published_at=row["published_at"],
        first_seen_at=row["first_seen_at"],
        categories=list(row["categories"]),
        language=row["language"],
        fingerprint=row["fingerprint"] or "",
        relevance=row["relevance"],
        relevance_reason=reason,
        sectors=sectors,
        story=story,
    )
