"""DD News feed entries carry only their first paragraph: a plausible entry is judged on its page
before the monitor decides. `monitor poll` subprocesses against a loopback mirror."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import FeedServer, write_config
from tests.mirrors import HTML, mirror_outlet, outlet_source
from tests.processes import monitor

# SYNTHETIC: a DD News page modelled on shared/research/sources.md §2.4 (WordPress single post);
# the Japan link is only in the third paragraph.
PAGE = """<!-- SYNTHETIC: modeled on shared/research/sources.md §2.4, not captured from the site -->
<!DOCTYPE html><html lang="en-US"><head><meta charset="UTF-8">
<title>{title} - DD News</title>
<meta property="og:type" content="article">
<meta property="og:title" content="{title}">
<meta property="og:description" content="{first}">
<meta property="article:published_time" content="{{{{N-2h isoz}}}}">
<meta property="article:section" content="National">
</head><body class="single single-post"><main id="primary" class="site-main">
<article class="post type-post status-publish"><header class="entry-header">
<h1 class="entry-title">{title}</h1></header>
<div class="entry-content">{paragraphs}</div></article></main></body></html>
"""
BRIDGE = (
    "Assam CM lays foundation stone for Dhubri-Phulbari bridge",
    [
        "Assam Chief Minister Himanta Biswa Sarma on Monday laid the foundation stone for the "
        "19-km Dhubri-Phulbari bridge over the Brahmaputra.",
        "The bridge will cut the travel distance between Assam and Meghalaya by 200 km.",
        "The project is funded through a loan from the Japan International Cooperation Agency "
        "(JICA). Japanese Ambassador Ono Keiichi was present at the ceremony.",
    ],
)
HIGHWAY = (
    "Nitin Gadkari inaugurates 4-lane highway in Madhya Pradesh",
    [
        "Union Minister Nitin Gadkari on Sunday inaugurated a 120-km four-lane highway in "
        "Madhya Pradesh.",
        "The minister said the state would get 12 new expressway projects.",
        "He said the road network of the state would match those of the United States and Japan "
        "by 2030.",
    ],
)


def serve_page(server: FeedServer, slug: str, story: tuple[str, list[str]]) -> str:
    title, paragraphs = story
    html = PAGE.format(
        title=title, first=paragraphs[0], paragraphs="".join(f"<p>{p}</p>" for p in paragraphs)
    )
    return server.serve(f"/en/{slug}/", server.clock.render(html), headers=HTML)


def feed(server: FeedServer, items: list[tuple[str, str, tuple[str, list[str]]]]) -> str:
    """A DD-style feed whose items carry only the first paragraph as description."""
    body = "".join(
        f"<item><title>{story[0]}</title><link>{link}</link>"
        f"<guid isPermaLink='false'>https://ddnews.gov.in/en/?p={guid}</guid>"
        "<pubDate>{{N-2h rfc822}}</pubDate>"
        f"<description>{story[1][0]}</description></item>"
        for link, guid, story in items
    )
    xml = (
        "<?xml version='1.0'?><!-- SYNTHETIC: DD-style items pointing at the mirror -->"
        f"<rss version='2.0'><channel><title>DD News</title>{body}</channel></rss>"
    )
    return server.clock.render(xml)


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_plausible_entries_are_judged_on_their_page(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    mirror_outlet(feed_server, "ddnews")
    bridge = serve_page(feed_server, "dhubri-phulbari-bridge", BRIDGE)
    highway = serve_page(feed_server, "four-lane-highway-madhya-pradesh", HIGHWAY)
    feed_server.serve(
        "/en/feed/", feed(feed_server, [(bridge, "900001", BRIDGE), (highway, "900002", HIGHWAY)])
    )
    source = outlet_source(feed_server, "ddnews", feeds=["/en/feed/"], enrich=True)
    analyst = {
        "name": "analyst",
        "urls": ["mailto://monitor:secret@127.0.0.1:9?to=analyst@example.org"],
        "rules": [{"name": "everything"}],
    }
    cfg = write_config(
        tmp_path / "feeds.yaml", [source], crawl={"download_delay": 0}, subscribers=[analyst]
    )

    polled = json.loads(monitor("poll", "--json", config=cfg, db=db_path).stdout)
    # Neither first paragraph names Japan; the bridge's page does, the highway's only compares.
    assert polled[0]["new"] == 0 and polled[0]["found_on_page"] == 1
    assert feed_server.hits("/en/dhubri-phulbari-bridge/") == 1
    assert feed_server.hits("/en/four-lane-highway-madhya-pradesh/") == 1
    stored = json.loads(monitor("articles", "--json", config=cfg, db=db_path).stdout)
    assert [a["title"] for a in stored] == [BRIDGE[0]]
    why = stored[0]["relevance_reason"]["text"]
    assert "JICA" in why or "Japan" in why
    # the highway page was read and judged on its full text: remembered, never fetched again
    [(verdict, full)] = rows(db_path, "SELECT verdict, full_text FROM seen_item")
    assert (verdict, full) == ("irrelevant", 1)
    monitor("poll", "--json", config=cfg, db=db_path)
    assert feed_server.hits("/en/four-lane-highway-madhya-pradesh/") == 1
    assert feed_server.hits("/en/dhubri-phulbari-bridge/") == 1
    # the first collection of a source records what exists: what its pages show does not alert
    assert rows(db_path, "SELECT state, reason FROM delivery") == [
        ("suppressed", "baseline: first collection of this source")
    ]
