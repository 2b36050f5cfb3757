"""The shared pipeline on a real SQLite file: relevance → dedup → tag → store, and what is new."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.app import build
from monitor.article import Article
from monitor.collect.canonical import url_hash
from monitor.config import Config, load_config
from monitor.flow import ingest, preview
from monitor.judge.rules import parse_query
from storage import articles as store
from storage.db import Database

CONFIG = """\
sources:
  - id: dd
    name: DD News
    base_url: https://ddnews.gov.in
    feeds: [/en/feed/]
    exclude_urls: ['/hi/']
  - id: jt
    name: The Japan Times
    base_url: https://www.japantimes.co.jp
    feeds: [/feed/]
relevance:
  near_words: 40
  india: [India, New Delhi, Modi]
  japan: [Japan, Japanese, Tokyo]
  bilateral: [India-Japan]
sectors:
  semiconductors:
    label: Semiconductors
    terms: [semiconductor*, chip plant]
  rail:
    label: High-speed rail
    terms: [Shinkansen, bullet train]
"""
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def make_config(tmp_path: Path, text: str = CONFIG) -> Config:
    path = tmp_path / "feeds.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(path).config


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.create_schema()
    with database.write() as conn:
        from storage.sources import sync_sources

        sync_sources(conn, [("dd", "DD News", []), ("jt", "The Japan Times", [])])
    yield database
    database.dispose()  # PostgreSQL: no connection left open on a database about to be dropped


def art(n: int, title: str, summary: str = "", **kw: object) -> Article:
    base = Article(
        source_id="dd",
        url=f"https://ddnews.gov.in/en/story-{n}/",
        original_url=f"https://ddnews.gov.in/en/story-{n}/?utm_source=rss",
        guid=f"https://ddnews.gov.in/en/?p={n}",
        title=title,
        summary=summary,
        text="",
        author="DD News Desk",
        published_at=NOW - timedelta(hours=n),
        first_seen_at=NOW,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


BILATERAL = "India-Japan semiconductor pact signed"
NEAR = "Modi meets Japanese PM in Tokyo on Shinkansen"


def test_stores_relevant_with_tags_and_reasons(tmp_path: Path, db: Database) -> None:
    app = build(make_config(tmp_path), db)
    batch = [
        art(1, BILATERAL, "New chip plant planned."),
        art(2, NEAR, "The bullet train project advances."),
        art(3, "Monsoon reaches India", "Rain in New Delhi."),
        art(4, "Tokyo stocks rise"),
    ]
    outcome = ingest(app, "dd", batch, NOW)
    assert (outcome.entries, len(outcome.new), outcome.irrelevant, outcome.duplicate) == (
        4,
        2,
        2,
        0,
    )
    with db.read() as conn:
        rows = {r.title: r for r in store.list_articles(conn)}
    assert set(rows) == {BILATERAL, NEAR}
    assert rows[BILATERAL].matched == {"semiconductors": ["chip plant", "semiconductor*"]}
    assert rows[BILATERAL].relevance == 1.0
    assert rows[BILATERAL].relevance_reason["rule"] == "bilateral"
    assert rows[NEAR].matched == {"rail": ["Shinkansen", "bullet train"]}
    assert rows[NEAR].relevance_reason["rule"] == "near"
    assert rows[NEAR].published_at == NOW - timedelta(hours=2)
    assert rows[NEAR].published_at.tzinfo is not None


def test_second_poll_stores_nothing_new(tmp_path: Path, db: Database) -> None:
    app = build(make_config(tmp_path), db)
    batch = [art(1, BILATERAL), art(3, "Monsoon reaches India")]
    assert len(ingest(app, "dd", batch, NOW).new) == 1
    judged: list[str] = []
    original = app.judge.judge
    app.judge.judge = lambda a: judged.append(a.title) or original(a)  # type: ignore[method-assign]
    again = ingest(app, "dd", [art(1, BILATERAL), art(3, "Monsoon reaches India")], NOW)
    assert (len(again.new), again.duplicate, again.irrelevant) == (0, 1, 1)
    assert judged == []  # the irrelevant key was remembered, not judged again


def test_same_story_under_new_guid_or_new_url_is_stored_once(tmp_path: Path, db: Database) -> None:
    app = build(make_config(tmp_path), db)
    first = art(1, BILATERAL, "Signed in Tokyo today.")
    assert len(ingest(app, "dd", [first], NOW).new) == 1
    new_guid_same_url = replace(first, guid="https://ddnews.gov.in/en/?p=999")
    amp_link = replace(
        first, url="https://ddnews.gov.in/en/story-1/amp/", guid="https://ddnews.gov.in/en/?p=1000"
    )
    republished = replace(
        first,
        url="https://ddnews.gov.in/en/story-1-updated/",
        guid="https://ddnews.gov.in/en/?p=1001",
    )
    out = ingest(app, "dd", [new_guid_same_url, amp_link, republished], NOW)
    assert len(out.new) == 0 and out.duplicate == 3
    with db.read() as conn:
        assert len(store.list_articles(conn)) == 1
    # remembered: the republished copy is not judged again on the next poll
    assert ingest(app, "dd", [replace(republished)], NOW).duplicate == 1


def test_same_text_from_another_outlet_is_kept(tmp_path: Path, db: Database) -> None:
    app = build(make_config(tmp_path), db)
    dd = art(1, BILATERAL, "Wire copy.")
    jt = replace(
        dd, source_id="jt", url="https://www.japantimes.co.jp/news/2026/11/23/x/", guid="jt-1"
    )
    assert len(ingest(app, "dd", [dd], NOW).new) == 1
    assert len(ingest(app, "jt", [jt], NOW).new) == 1


def test_guid_shared_by_different_links_is_ignored(tmp_path: Path, db: Database) -> None:
    app = build(make_config(tmp_path), db)
    a = art(1, BILATERAL, guid="same")
    b = art(2, NEAR, guid="same")
    assert len(ingest(app, "dd", [a, b], NOW).new) == 2


def test_excluded_urls_are_not_stored(tmp_path: Path, db: Database) -> None:
    app = build(make_config(tmp_path), db)
    hindi = art(1, BILATERAL, url="https://ddnews.gov.in/hi/story-1/")
    out = ingest(app, "dd", [hindi], NOW)
    assert (len(out.new), out.irrelevant) == (0, 1)


def test_irrelevant_keys_are_rejudged_when_rules_change(tmp_path: Path, db: Database) -> None:
    item = art(5, "Delhi metro phase opens", "Funded by JICA loans.")
    assert len(ingest(build(make_config(tmp_path), db), "dd", [item], NOW).new) == 0
    widened = CONFIG.replace("bilateral: [India-Japan]", "bilateral: [India-Japan, JICA]")
    out = ingest(build(make_config(tmp_path, widened), db), "dd", [replace(item)], NOW)
    assert len(out.new) == 1


def test_fulltext_search_and_filters(tmp_path: Path, db: Database) -> None:
    app = build(make_config(tmp_path), db)
    ingest(app, "dd", [art(1, BILATERAL, "New chip plant."), art(2, NEAR)], NOW)
    with db.read() as conn:
        chips = store.list_articles(conn, search=parse_query("chip"))
        assert [a.title for a in chips] == [BILATERAL]
        assert [a.title for a in store.list_articles(conn, sector="rail")] == [NEAR]
        recent = store.list_articles(conn, since=NOW - timedelta(hours=1, minutes=30))
        assert [a.title for a in recent] == [BILATERAL]
        assert store.list_articles(conn, sources=["jt"]) == []


def test_preview_tells_what_process_would_do_and_writes_nothing(
    tmp_path: Path, db: Database
) -> None:
    app = build(make_config(tmp_path), db)
    ingest(app, "dd", [art(1, BILATERAL)], NOW)

    def batch() -> list[Article]:
        return [
            art(1, BILATERAL),  # stored already
            art(2, NEAR),
            art(2, NEAR),  # the same link twice
            art(3, "Monsoon reaches India"),
            art(4, NEAR, url="https://ddnews.gov.in/hi/story-4/"),  # excluded
        ]

    dry = preview(app, "dd", batch())
    with db.read() as conn:
        assert [a.title for a in store.list_articles(conn)] == [BILATERAL]
        monsoon = url_hash(art(3, "").url)
        assert store.known_keys(conn, "dd", [monsoon], app.judge.rules_hash).irrelevant == {}
    real = ingest(app, "dd", batch(), NOW)
    assert [a.title for _, a in dry.new] == [a.title for _, a in real.new] == [NEAR]
    assert (dry.duplicate, dry.irrelevant) == (real.duplicate, real.irrelevant) == (2, 2)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("chip*", {1, 3}),  # prefix
        ('"rare earth"', {2}),  # phrase, in the summary
        ('"earth rare"', set()),  # a phrase keeps its order
        ("chip* AND NOT Gujarat", {1}),
        ("Gujarat OR magnets", {2, 3}),
        ("India-Japan", {1, 2, 3}),  # punctuation inside a term: the phrase "india japan"
        ("(chip* OR magnet*) AND Tokyo", {1, 2}),
        ("nosuchword", set()),
    ],
)
def test_search_means_the_same_on_every_backend(
    tmp_path: Path, db: Database, query: str, expected: set[int]
) -> None:
    app = build(make_config(tmp_path), db)
    items = [
        art(1, "India-Japan chip pact signed in Tokyo", "A chipmaking deal."),
        art(2, "India-Japan magnets deal", "Tokyo and New Delhi agree on rare earth supplies."),
        art(3, "India-Japan chips plant for Gujarat", "A fab near Ahmedabad."),
    ]
    ingest(app, "dd", items, NOW)
    with db.read() as conn:
        found = store.list_articles(conn, search=parse_query(query))
    assert {int(a.url.rstrip("/").rsplit("-", 1)[1]) for a in found} == expected
