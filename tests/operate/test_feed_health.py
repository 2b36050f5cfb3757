"""`monitor poll` then `monitor status` as subprocesses: a feed answering a bot-protection
challenge makes its source blocked, one answering 200 with year-old items stale, one on a port
nobody listens on unreachable — never "ok", never "extraction broken"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import DATA, FeedServer, free_port, write_config
from tests.processes import monitor

CHALLENGE = (DATA / "pages" / "challenges" / "cloudflare.html").read_bytes()


def poll_and_status(tmp_path: Path, base_url: str) -> tuple[int, dict[str, Any]]:
    sources = [{"id": "ddnews", "name": "DD News", "base_url": base_url, "feeds": ["/en/feed/"]}]
    cfg = write_config(tmp_path / "feeds.yaml", sources)
    db = tmp_path / "monitor.db"
    polled = monitor("poll", "--json", config=cfg, db=db)
    [row] = json.loads(monitor("status", "--json", config=cfg, db=db).stdout)
    return polled.returncode, row


def test_a_challenged_feed_is_blocked(tmp_path: Path, feed_server: FeedServer) -> None:
    headers = {"Content-Type": "text/html; charset=UTF-8", "Server": "cloudflare"}
    feed_server.serve("/en/feed/", CHALLENGE, status=403, headers=headers)
    code, row = poll_and_status(tmp_path, feed_server.base_url)
    assert code == 1
    assert row["state"] == "blocked"
    assert "Cloudflare challenge (not bypassed)" in row["detail"]
    assert row["feeds"][0]["last_error_kind"] == "challenge"


def test_a_feed_answering_with_year_old_items_is_stale(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    frozen = feed_server.clock.render(
        "<?xml version='1.0'?><!-- SYNTHETIC: a DD-style feed frozen for a year -->"
        "<rss version='2.0'><channel><title>DD News</title><item><title>Old news</title>"
        f"<link>{feed_server.base_url}/en/old-news/</link>"
        "<pubDate>{{D-400 08:00:00 rfc822}}</pubDate></item></channel></rss>"
    )
    feed_server.serve("/en/feed/", frozen)
    code, row = poll_and_status(tmp_path, feed_server.base_url)
    assert code == 0  # the poll itself succeeded: 200, a valid feed
    assert row["state"] == "stale"
    assert "newest item from" in row["detail"] and "stale after 7 d" in row["detail"]
    assert row["feeds"][0]["entries"] == 1 and row["feeds"][0]["newest_item"] is not None
    assert row["stale_after_hours"] == 7 * 24


def test_a_feed_nobody_answers_for_is_unreachable(tmp_path: Path) -> None:
    code, row = poll_and_status(tmp_path, f"http://127.0.0.1:{free_port()}")
    assert code == 1
    assert row["state"] == "unreachable"
    assert row["feeds"][0]["last_error_kind"] == "connect"
