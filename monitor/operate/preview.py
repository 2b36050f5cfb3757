"""`monitor rules try`: which stored articles a rule would have matched, and with which terms.

Reads: stored articles (newest first). Writes: nothing.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime

from monitor.article import Article
from monitor.judge.rules import Query, Rule, RuleSet
from storage import articles as store
from storage.db import Database, time_limit
from storage.fulltext import SearchError, fts5


def rule_matches(
    db: Database,
    query: Query,
    *,
    since: datetime | None,
    limit: int,
    indexed: bool = False,
    seconds: float | None = None,
) -> list[tuple[Article, list[str]]]:
    """Up to `limit` stored articles the query matches, each with the terms that made it.

    indexed: only the articles the full-text index finds for the query are read (when it can
    answer it), not every stored one; seconds: the reads are interrupted after that long
    (storage.db.QueryTimeout)."""
    ruleset = RuleSet([Rule(key="try", query=query)])
    narrowed = query if indexed and _searchable(query) else None
    hits: list[tuple[Article, list[str]]] = []
    with db.read() as conn, time_limit(conn, seconds) if seconds else nullcontext():
        for stored in store.iter_articles(conn, since=since, search=narrowed):
            hits += [(stored, match.terms) for match in ruleset.match(stored)]
            if len(hits) >= limit:
                break
    return hits[:limit]


def _searchable(query: Query) -> bool:
    try:
        fts5(query)
    except SearchError:
        return False
    return True
