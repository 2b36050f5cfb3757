"""Spiders through the crawl runner, as `monitor crawl` subprocesses against a loopback mirror."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import FeedServer, write_config
from tests.mirrors import HTML, mirror_outlet, outlet_source
from tests.processes import monitor
from tests.spiders import PAGES, expected


def config(tmp_path: Path, sources: list[dict[str, Any]], **overrides: Any) -> Path:
    return write_config(tmp_path / "feeds.yaml", sources, crawl={"download_delay": 0}, **overrides)


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_crawl_orf_stores_india_japan_pieces_with_dates_and_sectors(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    mirror_outlet(feed_server, "orf")
    cfg = config(tmp_path, [outlet_source(feed_server, "orf")])
    result = monitor("crawl", "orf", "--json", config=cfg, db=db_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["problem"] is None and report["listing_pages"] == 1
    pages = expected("orf", feed_server.clock)["pages"]
    india_japan = {p["path"]: p for p in pages.values() if p["india_japan"]}
    assert report["new"] == len(india_japan)
    stored = json.loads(monitor("articles", "--json", config=cfg, db=db_path).stdout)
    assert {a["url"].removeprefix(feed_server.base_url) for a in stored} == set(india_japan)
    for article in stored:
        page = india_japan[article["url"].removeprefix(feed_server.base_url)]
        assert article["published_at"] == page["published_at"].replace("+00:00", "Z")
        assert article["sectors"], article["title"]
        assert article["source"] == "orf"
    sectors = {s for a in stored for s in a["sectors"]}
    assert {"critical_minerals", "defence_maritime"} <= sectors
    # a second crawl skips what it already stored with full text
    feed_server.requests.clear()
    again = json.loads(monitor("crawl", "orf", "--json", config=cfg, db=db_path).stdout)
    assert again["new"] == 0
    assert not any(p in india_japan for p, _ in feed_server.requests)


def test_feed_and_spider_overlap_is_stored_once_and_fuller_text_wins(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    mirror_outlet(feed_server, "japantimes")
    page = expected("japantimes", feed_server.clock)["pages"]["article_semiconductors.html"]
    link = feed_server.base_url + page["path"]
    feed = (
        "<?xml version='1.0'?><!-- SYNTHETIC: one JT-style item pointing at the mirror -->"
        "<rss version='2.0'><channel><title>Japan Times latest articles</title><item>"
        f"<title>{page['title']}</title><link>{link}?utm_source=rss&amp;utm_medium=feed</link>"
        "<guid isPermaLink='false'>https://www.japantimes.co.jp/?p=4509001</guid>"
        "<pubDate>{{D-3 08:42:00 rfc822}}</pubDate>"
        "<description>India and Japan deepen chip ties.</description></item></channel></rss>"
    )
    feed = feed_server.clock.render(feed)
    feed_server.serve("/feed/", feed)
    cfg = config(tmp_path, [outlet_source(feed_server, "japantimes", feeds=["/feed/"])])
    polled = json.loads(monitor("poll", "--json", config=cfg, db=db_path).stdout)
    assert polled[0]["new"] == 1
    crawled = json.loads(monitor("crawl", "japantimes", "--json", config=cfg, db=db_path).stdout)
    assert crawled["updated"] == 1
    [(count, text_len, updated)] = rows(
        db_path,
        f"SELECT count(*), length(text), updated_at FROM article WHERE url LIKE '%{page['path']}'",
    )
    assert count == 1 and text_len > 200 and updated is not None


def test_changed_layout_is_reported_as_extraction_broken(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    feed_server.serve("/robots.txt", "User-agent: *\nAllow: /\n")
    feed_server.serve(
        "/expert-speak",
        feed_server.clock.read(PAGES / "orf" / "listing_changed.html"),
        headers=HTML,
    )
    cfg = config(tmp_path, [outlet_source(feed_server, "orf")])
    result = monitor("crawl", "orf", config=cfg, db=db_path)
    assert result.returncode == 1
    assert "problem" in result.stdout
    status = {
        r["source"]: r
        for r in json.loads(monitor("status", "--json", config=cfg, db=db_path).stdout)
    }
    assert status["orf"]["state"] == "extraction broken"
    assert status["orf"]["crawl_problem"]


def test_robots_txt_disallow_is_obeyed(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    mirror_outlet(feed_server, "orf", robots="User-agent: *\nDisallow: /research/\n")
    cfg = config(tmp_path, [outlet_source(feed_server, "orf")])
    monitor("crawl", "orf", "--json", config=cfg, db=db_path)
    assert feed_server.hits("/robots.txt") == 1
    assert not any(p.startswith("/research/") for p, _ in feed_server.requests)
    assert any(p.startswith("/expert-speak/") for p, _ in feed_server.requests)


def test_private_network_guard_applies_to_spiders(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    mirror_outlet(feed_server, "orf")
    cfg = config(
        tmp_path,
        [outlet_source(feed_server, "orf")],
        fetch={"allow_private_networks": False},
    )
    result = monitor("crawl", "orf", "--json", config=cfg, db=db_path)
    assert result.returncode == 1
    assert json.loads(result.stdout)["new"] == 0
    assert feed_server.requests == []  # refused before any connection


def test_enrichment_fetches_short_feed_entries_once(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    mirror_outlet(feed_server, "ddnews")
    page = expected("ddnews", feed_server.clock)["pages"]["article_mahsr.html"]
    feed = (
        "<?xml version='1.0'?><!-- SYNTHETIC: DD-style item pointing at the mirror -->"
        "<rss version='2.0'><channel><title>DD News</title><item>"
        f"<title>{page['title']}</title><link>{feed_server.base_url}{page['path']}</link>"
        "<guid isPermaLink='false'>https://ddnews.gov.in/en/?p=781500</guid>"
        "<pubDate>{{D-2 13:15:00 rfc822}}</pubDate>"
        "<description>Bullet train corridor with Japan's Shinkansen technology.</description>"
        "</item></channel></rss>"
    )
    feed = feed_server.clock.render(feed)
    feed_server.serve("/en/feed/", feed)
    source = outlet_source(feed_server, "ddnews", feeds=["/en/feed/"], enrich=True)
    cfg = config(tmp_path, [source])
    polled = json.loads(monitor("poll", "--json", config=cfg, db=db_path).stdout)
    assert polled[0]["new"] == 1 and polled[0]["enriched"] == 1
    assert feed_server.hits(page["path"]) == 1
    [(text_len,)] = rows(db_path, "SELECT length(text) FROM article")
    assert text_len > 200
    monitor("poll", "--json", config=cfg, db=db_path)
    assert feed_server.hits(page["path"]) == 1  # not fetched again
