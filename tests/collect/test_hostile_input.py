"""Hostile or broken input never stops the daemon: a page that would take minutes to parse, a
server asking to wait forever, feeds that moved or are gone."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.collect import shape
from spiders import SPIDERS
from tests.conftest import FEEDS, FeedServer, SmtpServer, write_config
from tests.processes import Stderr, count, monitor, start, stop, wait_until
from tests.spiders import BASE, NOW, page, parsed, response, source

HTML = {"Content-Type": "text/html; charset=utf-8"}
SLUG = "/expert-speak/india-japan-a-page-nested-one-hundred-thousand-deep"
DEEP = "<html><head><title>x</title></head><body>" + "<div>" * 100_000 + "India Japan"


def test_a_page_nested_100k_deep_is_refused_at_once_and_polls_go_on(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    body = DEEP + "</div>" * 100_000 + "</body></html>"
    assert 1_000_000 < len(body) < 10 * 1024 * 1024  # under the page cap
    feed_server.serve("/robots.txt", "User-agent: *\nAllow: /\n")
    listing = f'<html><body><div class="all_story"><a href="{SLUG}"><h3>x</h3></a></div>'
    feed_server.serve("/expert-speak", listing, headers=HTML)
    feed_server.serve(SLUG, body, headers=HTML)
    feed_server.serve_file("/feed/", FEEDS / "japantimes_feed.xml")
    sources = [
        {"id": "orf", "name": "ORF", "base_url": feed_server.base_url,
         "crawl": {"listing_paths": ["/expert-speak"], "interval": "2s"}},
        {"id": "jt", "name": "JT", "base_url": feed_server.base_url, "feeds": ["/feed/"],
         "poll_interval": "1s", "jitter": "1s"},
    ]  # fmt: skip
    cfg = write_config(tmp_path / "feeds.yaml", sources, crawl={"download_delay": 0})
    db = tmp_path / "m.db"
    proc = start(cfg, db)
    log = Stderr(proc)
    try:
        log.wait_for(r"page refused.*nested more than 512 deep", timeout=30)
        polled = count(db, "SELECT count(*) FROM fetch_log")
        log.wait_for(r"msg=\"crawl finished\" source=orf", timeout=20)
        wait_until(lambda: count(db, "SELECT count(*) FROM crawl_run") >= 2, timeout=20)
        assert count(db, "SELECT count(*) FROM fetch_log") > polled  # the loop never stalled
    finally:
        assert stop(proc, log) == 0, log.text
    assert feed_server.hits(SLUG) == 1  # refused once, never fetched again


def test_a_page_that_takes_too_long_to_read_is_refused() -> None:
    spider = SPIDERS["orf"](source=source("orf"), now=NOW, extract_budget=1e-6)
    html = page("orf", "article_rare_earths.html")
    assert shape.problem(html) is None  # an ordinary page: only the time budget refuses it
    url = BASE + "/expert-speak/quad-critical-minerals-india-japan-rare-earth-processing"
    assert parsed(spider.parse_article(response(url, html))) == []
    assert spider.health.refused == [url]


def test_shape_refuses_only_what_no_page_has() -> None:
    assert shape.problem(DEEP) is not None
    assert shape.problem("<p>" * 5000 + "unclosed paragraphs are common") is None
    assert shape.problem("<br>" * 250_000) is not None  # too many elements


def feed_state(db: Path, url: str) -> dict[str, object]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM feed WHERE url = ?", (url,)).fetchone()
    return dict(row)


def test_a_server_asking_to_wait_forever_waits_a_day_at_most(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.serve("/huge/", "busy", status=503, headers={"Retry-After": "9" * 20})
    feed_server.serve(
        "/y9999/", "busy", status=503, headers={"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}
    )
    source = {"id": "dd", "name": "DD", "base_url": feed_server.base_url,
              "feeds": ["/huge/", "/y9999/"]}  # fmt: skip
    cfg = write_config(tmp_path / "feeds.yaml", [source])
    db = tmp_path / "m.db"
    result = monitor("poll", "--json", config=cfg, db=db)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert [f["error_kind"] for f in json.loads(result.stdout)[0]["feeds"]] == ["http", "http"]
    for path in ("/huge/", "/y9999/"):
        state = feed_state(db, feed_server.base_url + path)
        retry_at = datetime.fromisoformat(str(state["next_fetch_at"])).replace(tzinfo=UTC)
        assert retry_at <= datetime.now(UTC) + timedelta(days=1, minutes=1)


def test_a_moved_feed_is_recorded_and_a_gone_feed_suspended_until_resumed(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    feed_server.serve("/old/", "", status=301, headers={"Location": "/new/"})
    feed_server.serve_file("/new/", FEEDS / "japantimes_feed.xml")
    feed_server.serve("/gone/", "gone", status=410)
    source = {"id": "jt", "name": "JT", "base_url": feed_server.base_url,
              "feeds": ["/old/", "/gone/"]}  # fmt: skip
    operator = [smtp_server.mail_url(to="ops@example.org")]
    cfg = write_config(tmp_path / "feeds.yaml", [source], alerts={"operator": operator})
    db = tmp_path / "m.db"
    monitor("poll", config=cfg, db=db)
    [status] = json.loads(monitor("status", "--json", config=cfg, db=db).stdout)
    feeds = {f["url"].removeprefix(feed_server.base_url): f for f in status["feeds"]}
    assert feeds["/old/"]["moved_to"] == feed_server.base_url + "/new/"
    assert "HTTP 410 Gone" in (feeds["/gone/"]["suspended"] or "")
    assert "update feeds.yaml" in status["detail"] and "feeds resume" in status["detail"]
    assert smtp_server.wait_for(1) and "suspended" in smtp_server.messages[0]["Subject"]
    monitor("poll", config=cfg, db=db)
    assert feed_server.hits("/gone/") == 1  # not fetched while suspended, even by `poll`
    assert len(smtp_server.messages) == 1  # told once
    resumed = monitor("feeds", "resume", "--source", "jt", config=cfg, db=db)
    assert resumed.returncode == 0 and "resumed" in resumed.stdout
    monitor("poll", config=cfg, db=db)
    assert feed_server.hits("/gone/") == 2
