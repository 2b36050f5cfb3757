"""The `monitor` command run as a subprocess against a loopback mirror and a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.collect.canonical import url_key
from tests.conftest import FEEDS, REPO, FeedServer, write_config
from tests.fixture_dates import FixtureClock
from tests.processes import monitor

MIRROR = {
    "japantimes": {
        "/feed/topstories/": "japantimes_feed.xml",
        "/news/feed/": "japantimes_news_feed.xml",
    },
    "ddnews": {
        "/en/feed/": "ddnews_feed.xml",
        "/en/category/international/feed/": "ddnews_international_feed.xml",
    },
}


@pytest.fixture
def mirror(feed_server: FeedServer, tmp_path: Path) -> Path:
    sources = []
    for source_id, feeds in MIRROR.items():
        for path, fixture in feeds.items():
            feed_server.serve_file(path, FEEDS / fixture)
        sources.append(
            {
                "id": source_id,
                "name": source_id,
                "base_url": feed_server.base_url,
                "poll_interval": "10m",
                "feeds": list(feeds),
            }
        )
    sources.append(
        {
            "id": "orf",
            "name": "ORF",
            "base_url": feed_server.base_url,
            "feeds": [],
            "crawl": {"listing_paths": ["/expert-speak"]},
        }
    )
    return write_config(tmp_path / "feeds.yaml", sources)


def expected_articles(clock: FixtureClock) -> dict[str, str]:
    """url key → title of every relevant fixture item, duplicates collapsed."""
    golden = json.loads(clock.read(FEEDS / "expected.json"))
    out: dict[str, str] = {}
    for feeds in MIRROR.values():
        for fixture in feeds.values():
            for item in golden[fixture]:
                if item["relevant"] and not item.get("duplicate_of"):
                    out.setdefault(url_key(item["link"]), item["title"])
    return out


def test_poll_stores_exactly_the_india_japan_articles_once(
    mirror: Path, db_path: Path, feed_server: FeedServer
) -> None:
    first = monitor("poll", "--json", config=mirror, db=db_path)
    assert first.returncode == 0, first.stderr
    report = {r["source"]: r for r in json.loads(first.stdout)}
    assert report["orf"] == {"source": "orf", "skipped": "spider"}  # collected by `crawl`
    assert report["japantimes"]["duplicate"] >= 3  # items repeated across JT's two feeds

    listed = monitor("articles", "--json", "--limit", "500", config=mirror, db=db_path)
    assert listed.returncode == 0, listed.stderr
    articles = json.loads(listed.stdout)
    expected = expected_articles(feed_server.clock)
    assert len(articles) == len(expected)
    assert {url_key(a["url"]) for a in articles} == set(expected)
    for a in articles:
        assert a["published_at"].endswith("Z")
        assert set(a) >= {"id", "source", "url", "title", "published_at", "sectors", "relevance"}
        assert set(a["sectors"]) == set(a["matched"])
        assert a["relevance"] > 0.5 and a["relevance_reason"]["text"]
    assert [a["published_at"] for a in articles] == sorted(
        (a["published_at"] for a in articles), reverse=True
    )

    again = monitor("poll", "--json", config=mirror, db=db_path)
    totals = {r["source"]: r for r in json.loads(again.stdout)}
    assert totals["japantimes"]["new"] == 0 and totals["ddnews"]["new"] == 0
    assert totals["japantimes"]["not_modified"] == 2  # conditional GET answered with 304


def test_articles_filters_and_table(mirror: Path, db_path: Path) -> None:
    monitor("poll", config=mirror, db=db_path)
    rail = json.loads(
        monitor(
            "articles", "--json", "--sector", "infrastructure_rail", config=mirror, db=db_path
        ).stdout
    )
    assert rail and all("infrastructure_rail" in a["sectors"] for a in rail)
    dd = json.loads(
        monitor("articles", "--json", "--source", "ddnews", config=mirror, db=db_path).stdout
    )
    assert dd and {a["source"] for a in dd} == {"ddnews"}
    found = json.loads(
        monitor("articles", "--json", "--search", "shinkansen", config=mirror, db=db_path).stdout
    )
    assert found and all("shinkansen" in json.dumps(a).lower() or a["sectors"] for a in found)
    table = monitor("articles", "--limit", "3", config=mirror, db=db_path)
    assert table.returncode == 0 and "Articles (3)" in table.stdout
    bad = monitor("articles", "--since", "yesterday-ish", config=mirror, db=db_path)
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_status_reports_each_source(mirror: Path, db_path: Path, feed_server: FeedServer) -> None:
    feed_server.serve("/en/feed/", "boom", status=500)
    polled = monitor("poll", config=mirror, db=db_path)
    assert polled.returncode == 1  # a feed failed
    assert "HTTP 500" in polled.stdout
    rows = {
        r["source"]: r
        for r in json.loads(monitor("status", "--json", config=mirror, db=db_path).stdout)
    }
    assert rows["japantimes"]["state"] == "ok" and rows["japantimes"]["articles"] > 0
    assert rows["japantimes"]["articles_24h"] == rows["japantimes"]["articles"]
    assert rows["ddnews"]["state"] == "failing"
    assert rows["ddnews"]["consecutive_failures"] == 1
    assert "HTTP 500" in rows["ddnews"]["last_error"]
    assert rows["ddnews"]["articles"] > 0  # its other feed still worked
    assert rows["orf"]["state"] == "never polled"  # its spider has not run yet
    assert rows["orf"]["collected_by"] == "spider"
    table = monitor("status", config=mirror, db=db_path)
    assert table.returncode == 0 and "failing" in table.stdout


def test_config_error_exits_2_naming_file_line_key(tmp_path: Path, db_path: Path) -> None:
    bad = tmp_path / "feeds.yaml"
    text = (REPO / "feeds.yaml").read_text(encoding="utf-8")
    bad.write_text(
        text.replace("  allow_private_networks: false", "  allow_private_network: false")
    )
    result = monitor("poll", config=bad, db=db_path)
    assert result.returncode == 2
    assert (
        f"{bad}:" in result.stderr and "fetch.allow_private_network: unknown key" in result.stderr
    )
    assert not db_path.exists()


def test_check_config_on_shipped_file() -> None:
    result = monitor("check-config", config=REPO / "feeds.yaml")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "refused" in result.stdout
    assert "feeds+spider" in result.stdout  # JT and DD: both; ORF: spider only
    assert "metrics: off" in result.stdout


def test_unknown_source_is_a_usage_error(mirror: Path, db_path: Path) -> None:
    result = monitor("poll", "--source", "nope", config=mirror, db=db_path)
    assert result.returncode == 2 and "unknown source nope" in result.stderr


def test_every_command_has_help() -> None:
    for command in ("run", "poll", "articles", "status", "check-config"):
        result = monitor(command, "--help")
        assert result.returncode == 0 and "Usage:" in result.stdout, command


def test_backup_while_stored_and_check(mirror: Path, db_path: Path, tmp_path: Path) -> None:
    monitor("poll", config=mirror, db=db_path)
    dest = tmp_path / "backups" / "monitor-copy.db"
    made = monitor("backup", str(dest), config=mirror, db=db_path)
    assert made.returncode == 0, made.stderr
    assert "integrity ok" in made.stdout and dest.exists()
    checked = monitor("backup", "--check", str(dest), config=mirror, db=db_path)
    assert checked.returncode == 0 and checked.stdout.strip().endswith(": ok")
    again = monitor("backup", str(dest), config=mirror, db=db_path)
    assert again.returncode == 2 and "exists" in again.stderr
    restored = json.loads(
        monitor("articles", "--json", "--limit", "500", config=mirror, db=dest).stdout
    )
    original = json.loads(
        monitor("articles", "--json", "--limit", "500", config=mirror, db=db_path).stdout
    )
    assert restored == original and restored


def test_status_shows_a_silent_source(tmp_path: Path, db_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from monitor.app import build
    from monitor.config import load_config
    from monitor.flow import ingest
    from storage import sources as state
    from storage.db import Database
    from tests.articles import article

    sources = [
        {"id": "dd", "name": "DD", "base_url": "https://ddnews.gov.in", "feeds": ["/en/feed/"]},
        {"id": "jt", "name": "JT", "base_url": "https://www.japantimes.co.jp", "feeds": ["/f/"]},
    ]
    config_path = write_config(tmp_path / "feeds.yaml", sources)
    config = load_config(config_path).config
    now = datetime.now(UTC)
    db = Database(f"sqlite:///{db_path}")
    db.create_schema()
    with db.write() as conn:
        state.sync_sources(conn, [("dd", "DD", []), ("jt", "JT", [])])
    collected = now - timedelta(days=10)  # ten articles a day apart, the last one ten days ago
    batch = [article(i, collected - timedelta(days=i)) for i in range(10)]
    for a in batch:
        a.first_seen_at = collected
    ingest(build(config, db), "dd", batch, collected)
    with db.write() as conn:
        state.record_source_poll(conn, "dd", now=now - timedelta(minutes=5), error=None)
        state.record_source_poll(conn, "jt", now=now - timedelta(minutes=5), error=None)
        state.finish_baseline(conn, "jt", now - timedelta(hours=1))
    db.dispose()

    rows = {
        r["source"]: r
        for r in json.loads(monitor("status", "--json", config=config_path, db=db_path).stdout)
    }
    dd = rows["dd"]
    assert dd["state"] == "silent" and dd["silent_after_hours"] == 144.0  # 6 × a one-day gap
    assert (
        dd["detail"].startswith("no new article since ")
        and "usually one every 24 h" in dd["detail"]
    )
    assert dd["last_new_article"] is not None and dd["operator_told"] is None  # no daemon yet
    assert rows["jt"]["state"] == "ok"  # first collected an hour ago: far from silent
    table = monitor("status", config=config_path, db=db_path)
    assert table.returncode == 0 and "silent" in table.stdout and "usually one" in table.stdout
