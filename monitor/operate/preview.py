"""`monitor rules try`: which stored articles a rule would have matched, and with which terms.

Reads: stored articles (newest first). Writes: nothing.
"""

from __future__ import annotations

from datetime import datetime

from monitor.article import Article
from monitor.judge.rules import Query, Rule, RuleSet
from storage import articles as store
from storage.db import Database


def rule_matches(
    db: Database, query: Query, *, since: datetime | None, limit: int
) -> list[tuple[Article, list[str]]]:
    """Up to `limit` stored articles the query matches, each with the terms that made it."""
    ruleset = RuleSet([Rule(key="try", query=query)])
    hits: list[tuple[Article, list[str]]] = []
    with db.read() as conn:
        for stored in store.iter_articles(conn, since=since):
            hits += [(stored, match.terms) for match in ruleset.match(stored)]
            if len(hits) >= limit:
                break
    return hits[:limit]
