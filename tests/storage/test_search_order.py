"""A search answers newest first whether its term is rare or common: the two ways storage walks
the full-text index (look the few matches up, or walk the date index past the many) agree with
what a reader would expect. SYNTHETIC articles, inserted out of date order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.article import Article
from monitor.judge.rules import parse_query
from storage import articles as store
from storage.db import Database
from storage.sources import sync_sources

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # injected: nothing here reads the wall clock


def synthetic(n: int, published: datetime, common: bool) -> Article:
    url = f"https://dd.example/{n}/"
    words = "India Japan semiconductor pact" if common else "India Japan rail talks"
    return Article(
        source_id="dd", url=url, original_url=url, guid=url, title=f"{words} {n}",
        summary="", text=f"SYNTHETIC item {n} about {words}.", author=None,
        published_at=published, first_seen_at=NOW, fingerprint=f"{n:032x}",
    )  # fmt: skip


def number(article: Article) -> int:
    return int(article.url.rstrip("/").rsplit("/", 1)[1])


def test_rare_and_common_terms_both_come_newest_first(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    db.create_schema()
    rng = random.Random(7)
    ages = list(range(7000))
    rng.shuffle(ages)  # ids and dates in different orders, as after a backfill
    items = [synthetic(i, NOW - timedelta(minutes=age), i % 700 != 0) for i, age in enumerate(ages)]
    with db.write() as conn:
        sync_sources(conn, [("dd", "DD News", [])], NOW)
        store.insert_articles(conn, items)
    for query, common in (("semicon*", True), ('"rail talks"', False)):
        wanted = sorted(
            (a for a in items if (number(a) % 700 != 0) == common),
            key=lambda a: a.published_at,
            reverse=True,
        )
        with db.read() as conn:
            first = store.list_articles(conn, search=parse_query(query), limit=20)
            later = store.list_articles(conn, search=parse_query(query), limit=20, offset=40)
        assert [a.url for a in first] == [a.url for a in wanted[:20]], query
        assert [a.url for a in later] == [a.url for a in wanted[40:60]], query
    assert len(wanted) == 10  # the rare term: under the 5,000 of the walk; the common one over
