"""Story clustering: which reports are one event, which are a new one; decided when stored, kept
across processes, with the evidence said in words.

Real SQLite files; the flow's ingest() with an injected clock.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from monitor.app import App, build
from monitor.article import Article
from monitor.config import load_config
from monitor.flow import ingest
from storage import stories, verdicts
from storage.db import Database
from storage.sources import sync_sources
from tests.conftest import write_config
from tests.deliver.test_story_alerts import MARKET_WRAP, SUMMIT
from tests.fixture_dates import GOLDEN
from tests.processes import monitor

NOW = GOLDEN.now


def open_app(tmp_path: Path, url: str | None = None) -> App:
    sources = [
        {"id": s, "name": s.upper(), "base_url": f"https://{s}.example", "feeds": ["/feed/"]}
        for s in ("jt", "dd", "orf")
    ]
    config = load_config(write_config(tmp_path / "feeds.yaml", sources)).config
    db = Database(url or f"sqlite:///{tmp_path / 'monitor.db'}")
    db.create_schema()
    with db.write() as conn:
        sync_sources(conn, [(s.id, s.name, []) for s in config.sources])
    return build(config, db, now=lambda: NOW)


def art(source: str, n: int, title: str, summary: str, hours: float = 0, **kw: Any) -> Article:
    url = f"https://{source}.example/{n}/"
    a = Article(
        source_id=source, url=url, original_url=url, guid=None, title=title, summary=summary,
        text="", author=None, published_at=NOW + timedelta(hours=hours), first_seen_at=NOW,
    )  # fmt: skip
    return replace(a, **kw)


def story_of(app: App, article: Article) -> tuple[int, str]:
    """The story of a stored article and the evidence it was stored with."""
    with app.db.read() as conn:
        [row] = [s for s in stories.list_stories(conn, limit=500) for a in s.articles
                 if a.url == article.url]  # fmt: skip
        evidence = next(a.evidence for a in row.articles if a.url == article.url)
    return row.id, evidence


def test_three_outlets_in_their_own_words_are_one_story(tmp_path: Path) -> None:
    app = open_app(tmp_path)
    reports = [art(s, 1, *SUMMIT[s], hours=h) for s, h in (("jt", 0), ("dd", 2), ("orf", 26))]
    for report in reports:
        ingest(app, report.source_id, [report], NOW)
    [first, second, third] = [story_of(app, r) for r in reports]
    assert first[0] == second[0] == third[0]
    assert first[1] == f"started story {first[0]}: no open story shares a name"
    assert second[1].startswith(f"joined story {first[0]}: same names ahmedabad, modi, mumbai")
    assert "h apart; similarity 0." in second[1]


def test_a_market_wrap_on_the_summit_is_a_story_of_its_own(tmp_path: Path) -> None:
    app = open_app(tmp_path)
    summit, wrap = art("jt", 1, *SUMMIT["jt"]), art("dd", 2, *MARKET_WRAP, hours=3)
    ingest(app, "jt", [summit], NOW)
    ingest(app, "dd", [wrap], NOW)
    (one, _), (other, why) = story_of(app, summit), story_of(app, wrap)
    assert one != other
    assert why.startswith(f"started story {other}: same thread as story {one}")


def test_the_same_leaders_a_month_later_are_a_new_story(tmp_path: Path) -> None:
    app = open_app(tmp_path)
    summit = art("jt", 1, *SUMMIT["jt"])
    later = art("jt", 2, *SUMMIT["dd"], hours=24 * 30)  # the very words, a month on
    ingest(app, "jt", [summit], NOW)
    ingest(app, "jt", [later], NOW)
    assert story_of(app, summit)[0] != story_of(app, later)[0]


def test_a_story_started_by_another_process_is_joined(tmp_path: Path, db_url: str) -> None:
    first = open_app(tmp_path, db_url)
    ingest(first, "dd", [art("dd", 1, *SUMMIT["dd"])], NOW)
    second = open_app(tmp_path, db_url)  # another process (a poll, a daemon): its own stories
    ingest(second, "jt", [art("jt", 1, *SUMMIT["jt"], hours=1)], NOW)
    ingest(first, "orf", [art("orf", 1, *SUMMIT["orf"], hours=2)], NOW)
    with first.db.read() as conn:
        listed = stories.list_stories(conn)
    first.db.dispose()
    second.db.dispose()
    [story] = listed
    assert story.size == 3 and story.outlets == ["DD", "JT", "ORF"]


def test_one_batch_holding_two_reports_makes_one_story(tmp_path: Path) -> None:
    app = open_app(tmp_path)
    batch = [art("dd", 1, *SUMMIT["dd"], hours=1), art("dd", 2, *SUMMIT["jt"])]
    ingest(app, "dd", batch, NOW)
    with app.db.read() as conn:
        [story] = stories.list_stories(conn)
    assert story.size == 2 and story.headline == SUMMIT["jt"][0]  # the earlier report heads it


def test_stories_articles_and_rules_try_show_the_story(tmp_path: Path) -> None:
    app = open_app(tmp_path)
    for s, h in (("jt", 0), ("dd", 2), ("orf", 4)):
        ingest(app, s, [art(s, 1, *SUMMIT[s], hours=h)], NOW)
    ingest(app, "dd", [art("dd", 2, *MARKET_WRAP, hours=3)], NOW)
    cfg, db = tmp_path / "feeds.yaml", tmp_path / "monitor.db"

    listed = json.loads(monitor("stories", "--json", config=cfg, db=db).stdout)
    assert [(s["size"], s["outlets"]) for s in listed] == [(3, ["JT", "DD", "ORF"]), (1, ["DD"])]
    summit = listed[0]
    assert summit["headline"] == SUMMIT["jt"][0] and summit["first_seen_at"].endswith("Z")
    assert summit["articles"][1]["evidence"].startswith(f"joined story {summit['id']}:")
    since = (NOW + timedelta(hours=3, minutes=30)).isoformat()
    assert [s["id"] for s in json.loads(
        monitor("stories", "--since", since, "--json", config=cfg, db=db).stdout
    )] == [summit["id"]]  # fmt: skip
    table = monitor("stories", "--sector", "semiconductors", config=cfg, db=db)
    assert table.returncode == 0 and "JT, DD, ORF" in table.stdout
    assert monitor("stories", "--sector", "nope", config=cfg, db=db).returncode == 2

    stored = json.loads(monitor("articles", "--json", config=cfg, db=db).stdout)
    by_title = {a["title"]: (a["story"], a["story_size"]) for a in stored}
    assert {by_title[t] for t, _ in SUMMIT.values()} == {(summit["id"], 3)}
    assert by_title[MARKET_WRAP[0]] == (listed[1]["id"], 1)

    tried = json.loads(monitor("rules", "try", "Shinkansen", "--json", config=cfg, db=db).stdout)
    assert {(t["story"], t["story_size"]) for t in tried} == {(summit["id"], 3)}


def test_a_daemon_keeps_only_open_stories_and_still_joins(tmp_path: Path) -> None:
    clock = [NOW]
    app = open_app(tmp_path)
    app = replace(app, now=lambda: clock[0])
    for day in range(6):  # a report a day, then the summit's three reports on the last day
        clock[0] = NOW + timedelta(days=day)
        title = f"Japan and India hold talks on port project number {day}"
        ingest(app, "jt", [art("jt", 100 + day, title, "Officials met.", hours=24 * day)], clock[0])
    at = 24 * 5
    for s in ("jt", "dd", "orf"):
        ingest(app, s, [art(s, 1, *SUMMIT[s], hours=at)], clock[0])
    index = app.stories.index
    window = app.stories.settings.window.total_seconds()
    assert all(
        story.anchor >= clock[0].timestamp() - 2 * window for story in index.stories.values()
    )
    assert len(index.stories) < 6  # the first days' stories are gone from memory
    with app.db.read() as conn:
        sizes = sorted(s.size for s in stories.list_stories(conn))
    assert sizes == [1, 1, 1, 1, 1, 1, 3]


def test_articles_dropped_by_rejudge_leave_their_story(tmp_path: Path) -> None:
    app = open_app(tmp_path)
    for s, h in (("jt", 0), ("dd", 2), ("orf", 4)):
        ingest(app, s, [art(s, 1, *SUMMIT[s], hours=h)], NOW)
    with app.db.read() as conn:
        [story] = stories.list_stories(conn)
    ids = [a.id for a in story.articles]
    with app.db.write() as conn:
        verdicts.drop(conn, ids[:1])
    with app.db.read() as conn:
        [left] = stories.list_stories(conn)
    assert (left.size, left.outlets) == (2, ["DD", "ORF"])
    with app.db.write() as conn:
        verdicts.drop(conn, ids[1:])
    with app.db.read() as conn:
        assert stories.list_stories(conn) == []
    late = art("jt", 9, *SUMMIT["jt"], hours=5)  # this process still holds the story open
    ingest(app, "jt", [late], NOW)
    with app.db.read() as conn:
        [revived] = stories.list_stories(conn)
    assert (revived.id, revived.size) == (story.id, 1)


def test_template_items_differing_only_in_their_figures_are_apart(tmp_path: Path) -> None:
    app = open_app(tmp_path)
    title = "India-Japan semiconductor pact, part {}"
    items = [art("dd", n, title.format(p), f"Tokyo and New Delhi agree, step {p[-1]}.")
             for n, p in enumerate(("0-1", "1-0", "0-2"))]  # fmt: skip
    ingest(app, "dd", items, NOW)
    copy = art("jt", 9, title.format("0-1"), "Tokyo and New Delhi agree, step 1.")
    ingest(app, "jt", [copy], NOW)  # the same text from another outlet: the same story
    with app.db.read() as conn:
        assert sorted(s.size for s in stories.list_stories(conn)) == [1, 1, 2]
