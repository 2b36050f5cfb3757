"""The web view's reads, each in one read transaction under a time limit, off the event loop.

Reads: the database (read-only) and the config. Writes: nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from monitor.article import Article
from monitor.config import Config
from monitor.judge.rules import Query
from monitor.judge.terms import TermMatcher
from monitor.operate.preview import rule_matches
from monitor.operate.status import source_rows
from monitor.web.params import Search
from storage import articles as store
from storage import browse
from storage.db import Database, time_limit
from storage.models import article_table
from storage.stories import StoryMember, recent_stories, story_members, story_of

TIME_LIMIT = 2.0  # seconds any one page's queries may take before they are interrupted
TRENDS_TIME_LIMIT = 5.0  # a year of weekly counts reads every article of the year


@dataclass(frozen=True)
class Results:
    articles: list[store.StoredArticle]
    terms: dict[int, list[str]]  # article id → the query's terms it contains
    has_more: bool
    outlets: dict[str, str]  # source id → name


def search(db: Database, s: Search) -> Results:
    with db.read() as conn, time_limit(conn, TIME_LIMIT):
        rows = store.list_articles(
            conn,
            sources=s.sources,
            sector=s.sector,
            since=s.since,
            until=s.until,
            search=s.query,
            story=s.story,
            by_relevance=s.by_relevance,
            limit=s.per_page + 1,
            offset=s.offset,
        )
        shown = rows[: s.per_page]
        terms = _terms(conn, s.query, [r.id for r in shown])
        outlets = browse.outlet_names(conn)
    return Results(shown, terms, len(rows) > s.per_page, outlets)


def _terms(conn: Any, query: Query | None, ids: list[int]) -> dict[int, list[str]]:
    """Which of the query's terms each article holds (title, summary or text), as rules see it."""
    if query is None or not query.terms or not ids:
        return {}
    a = article_table
    matcher = TermMatcher({"q": sorted(query.terms)})
    out: dict[int, list[str]] = {}
    for row_id, title, summary, text in conn.execute(
        select(a.c.id, a.c.title, a.c.summary, a.c.text).where(a.c.id.in_(ids))
    ):
        found = {h.term for h in matcher.find((("t", title), ("s", summary), ("x", text)))}
        out[row_id] = query.why(found) or sorted(found)
    return out


@dataclass(frozen=True)
class ArticlePage:
    article: store.StoredArticle
    text: browse.ArticleText
    outlet: str
    story_key: str | None
    story: list[StoryMember]
    alerts: list[browse.ArticleAlert]


def article(db: Database, article_id: int) -> ArticlePage | None:
    with db.read() as conn, time_limit(conn, TIME_LIMIT):
        found = store.article_by_id(conn, article_id)
        text = browse.article_text(conn, article_id)
        if found is None or text is None:
            return None
        key, members = story_of(conn, article_id)
        alerts = browse.article_alerts(conn, article_id)
        outlets = browse.outlet_names(conn)
    return ArticlePage(found, text, outlets.get(found.source, found.source), key, members, alerts)


def story(db: Database, key: str) -> list[StoryMember]:
    """The articles of one story, by its key."""
    with db.read() as conn, time_limit(conn, TIME_LIMIT):
        return story_members(conn, key)


def stories(db: Database, since: datetime) -> list[tuple[str, list[StoryMember]]]:
    """Stories in more than one outlet, latest first."""
    with db.read() as conn, time_limit(conn, TIME_LIMIT):
        return recent_stories(conn, since)


@dataclass(frozen=True)
class Trends:
    weeks: list[date]  # Mondays, oldest first
    sectors: dict[str, dict[date, int]]
    outlets: dict[str, dict[date, int]]
    outlet_names: dict[str, str]


def trends(db: Database, weeks: int, now: datetime, source: str | None = None) -> Trends:
    """Articles per sector and per outlet in each of the last `weeks` weeks (this one last)."""
    today = now.astimezone(UTC).date()
    monday = today - timedelta(days=today.weekday())
    days = [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    starts = [datetime.combine(day, datetime.min.time(), tzinfo=UTC) for day in days]
    with db.read() as conn, time_limit(conn, TRENDS_TIME_LIMIT):
        sectors = browse.weekly_by_sector(conn, starts, source)
        outlets = browse.weekly_by_outlet(conn, starts)
        names = browse.outlet_names(conn)
    return Trends(days, sectors, outlets, names)


def sources(db: Database, config: Config, now: datetime) -> list[dict[str, Any]]:
    return source_rows(db, config, now)


def preview(
    db: Database, query: Query, since: datetime | None, limit: int
) -> list[tuple[Article, list[str]]]:
    return rule_matches(db, query, since=since, limit=limit, indexed=True, seconds=TIME_LIMIT)
