"""Refresh against a real loopback server: conditional GET, failures, backoff, broken feeds."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.app import open_app
from monitor.config import load_config
from monitor.flow import refresh_source
from monitor.reports import SourceReport
from storage import articles as store
from storage import sources as state
from storage.db import Database
from storage.models import fetch_log_table
from tests.conftest import FEEDS, FeedServer, write_config
from tests.databases import open_database
from tests.fixture_dates import GOLDEN
from tests.fixture_dates import SettableClock as Clock

NOW = GOLDEN.now  # the Refresher's injected clock


def rss(*items: tuple[str, str]) -> str:
    body = "".join(
        f"<item><title>{title}</title><link>https://example.org/{slug}/</link>"
        f"<guid isPermaLink='false'>{slug}</guid>"
        f"<pubDate>{GOLDEN.text('N-20h rfc822')}</pubDate></item>"
        for slug, title in items
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{body}</channel></rss>"
    )


pytestmark = pytest.mark.usefixtures("every_backend")  # SQLite, then PostgreSQL


def poll(
    tmp_path: Path,
    server: FeedServer,
    sources: list[dict[str, object]],
    clock: Clock,
    **settings: object,
) -> tuple[list[SourceReport], Database]:
    cfg = load_config(write_config(tmp_path / "feeds.yaml", sources, **settings)).config
    db = open_database()
    db.create_schema()

    async def run() -> list[SourceReport]:
        async with open_app(cfg, db, now=clock) as app:
            return list(await asyncio.gather(*(refresh_source(app, s) for s in cfg.sources)))

    return asyncio.run(run()), db


def source(server: FeedServer, sid: str, *paths: str) -> dict[str, object]:
    return {"id": sid, "name": sid, "base_url": server.base_url, "feeds": list(paths)}


def test_conditional_get_second_poll_costs_nothing(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.serve("/feed/", rss(("a", "India-Japan summit in Tokyo")))
    clock = Clock(NOW)
    [first], db = poll(tmp_path, feed_server, [source(feed_server, "s", "/feed/")], clock)
    assert (first.count("ok"), first.total("new")) == (1, 1)
    [second], _ = poll(tmp_path, feed_server, [source(feed_server, "s", "/feed/")], clock)
    assert second.count("not_modified") == 1 and second.total("entries") == 0
    sent = feed_server.requests[-1][1]
    assert sent.get("if-none-match", "").startswith('"')
    with db.read() as conn:
        assert state.feed_state(conn, feed_server.base_url + "/feed/").etag is not None


def test_failing_source_does_not_block_others(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.serve("/ok/", rss(("a", "India-Japan rail deal")))
    feed_server.serve("/broken/", "boom", status=500)
    clock = Clock(NOW)
    sources = [source(feed_server, "good", "/ok/"), source(feed_server, "bad", "/broken/")]
    reports, db = poll(tmp_path, feed_server, sources, clock)
    by_id = {r.source: r for r in reports}
    assert by_id["good"].total("new") == 1
    assert by_id["bad"].count("error") == 1
    assert "HTTP 500" in (by_id["bad"].error or "")
    with db.read() as conn:
        status = state.source_status(conn)
    assert status["good"].consecutive_failures == 0
    assert status["bad"].consecutive_failures == 1
    assert status["bad"].feeds[0].next_fetch_at is not None


def test_backoff_skips_then_recovers(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.serve("/f/", "down", status=503, headers={"Retry-After": "3600"})
    clock = Clock(NOW)
    src = [source(feed_server, "s", "/f/")]
    [r1], _ = poll(tmp_path, feed_server, src, clock)
    assert r1.feeds[0].error_kind == "http"
    clock.now += timedelta(minutes=30)  # inside Retry-After: not even requested
    hits = feed_server.hits("/f/")
    [r2], _ = poll(tmp_path, feed_server, src, clock)
    assert r2.feeds[0].outcome == "backoff" and feed_server.hits("/f/") == hits
    clock.now += timedelta(hours=1)
    feed_server.serve("/f/", rss(("x", "Indo-Japanese ties")))
    [r3], db = poll(tmp_path, feed_server, src, clock)
    assert r3.total("new") == 1
    with db.read() as conn:
        assert state.source_status(conn)["s"].consecutive_failures == 0


def test_malformed_and_non_feed_bodies(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.serve_file("/malformed/", FEEDS / "malformed_feed.xml")
    feed_server.serve_file(
        "/html/", FEEDS / "not_a_feed.html", headers={"Content-Type": "text/html"}
    )
    reports, db = poll(
        tmp_path, feed_server, [source(feed_server, "s", "/malformed/", "/html/")], Clock(NOW)
    )
    feeds = {f.url.rsplit("/", 2)[-2]: f for f in reports[0].feeds}
    assert feeds["html"].outcome == "error" and feeds["html"].error_kind == "parse"
    assert feeds["malformed"].outcome == "ok" and feeds["malformed"].entries > 0
    assert feeds["malformed"].warning
    with db.read() as conn:
        logged = conn.execute(fetch_log_table.select()).mappings().all()
    assert {row["outcome"] for row in logged} == {"ok", "error"}


def test_unreachable_source_records_clear_error(tmp_path: Path, feed_server: FeedServer) -> None:
    dead = {"id": "dead", "name": "dead", "base_url": "http://127.0.0.1:9", "feeds": ["/feed/"]}
    [report], db = poll(tmp_path, feed_server, [dead], Clock(NOW))
    assert report.feeds[0].error_kind == "connect"
    with db.read() as conn:
        assert store.count_by_source(conn) == {}
        assert "127.0.0.1:9" in (state.source_status(conn)["dead"].last_error or "")


def test_a_feed_failing_n_polls_in_a_row_is_suspended_until_resumed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.serve("/broken/", "upstream error", status=500)
    feed_server.serve("/feed/", rss(("India-Japan pact", "pact")))
    src = [source(feed_server, "s", "/broken/", "/feed/")]
    fetch = {"allow_private_networks": True, "total_timeout": 5, "suspend_after_failures": 3}
    clock = Clock(NOW)
    for _ in range(4):  # each poll after the backoff: the third failure suspends the feed
        _, db = poll(tmp_path, feed_server, src, clock, fetch=fetch)
        clock.now += timedelta(hours=7)  # past the longest backoff (6 h)
    assert feed_server.hits("/broken/") == 3  # not fetched once suspended
    assert feed_server.hits("/feed/") == 4  # the source's other feed carries on
    with db.read() as conn:
        states = state.feed_states(conn, [feed_server.base_url + "/broken/"])
    [broken] = states.values()
    assert broken.suspended_reason and "3 failed polls in a row" in broken.suspended_reason
    with db.write() as conn:
        state.resume_feeds(conn, [feed_server.base_url + "/broken/"])
    poll(tmp_path, feed_server, src, clock, fetch=fetch)
    assert feed_server.hits("/broken/") == 4
