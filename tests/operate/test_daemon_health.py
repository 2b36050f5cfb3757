"""`monitor run` reports a silent source to the operator once, across many checks and a restart,
and once more when the source produces again (operator channel: real aiosmtpd)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

from monitor.app import build
from monitor.collect.parse import parse_feed
from monitor.config import load_config
from monitor.flow import ingest
from storage import sources as state
from storage.db import Database
from tests.conftest import FeedServer, SmtpServer, write_config
from tests.processes import Stderr, count, start, stop, wait_until


def feed(server: FeedServer, published: dict[int, datetime]) -> str:
    """India–Japan stories published at these times, and an hour-old story about something else:
    the feed is alive (not stale), only the India–Japan coverage stopped (silent)."""
    other = datetime.now(UTC) - timedelta(hours=1)
    entries = (
        f"<item><title>Monsoon rains lash Kerala</title><link>{server.base_url}/weather/</link>"
        f"<guid>{server.base_url}/weather/</guid><pubDate>{format_datetime(other)}</pubDate></item>"
    )
    entries += "".join(
        f"<item><title>{escape(f'India-Japan semiconductor talks, round {n}')}</title>"
        f"<link>{server.base_url}/story-{n}/</link><guid>{server.base_url}/story-{n}/</guid>"
        f"<description>Tokyo and New Delhi, round {n}.</description>"
        f"<pubDate>{format_datetime(when)}</pubDate></item>"
        for n, when in published.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>DD</title>'
        f"<link>{server.base_url}/</link>{entries}</channel></rss>"
    )


def test_silent_source_told_once_across_a_restart_then_recovered(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer, db_path: Path
) -> None:
    now = datetime.now(UTC)
    collected = now - timedelta(days=10)
    # One article a day, the newest ten days ago: usually one every 24 h, silent after 6 days.
    old = {n: collected - timedelta(days=n) for n in range(8)}
    body = feed(feed_server, old)
    feed_server.serve("/feed/", body)
    sources = [
        {
            "id": "ddnews",
            "name": "DD News",
            "base_url": feed_server.base_url,
            "poll_interval": "1s",
            "feeds": ["/feed/"],
        }
    ]
    ops = smtp_server.mail_url(to="ops@example.org")
    config_path = write_config(tmp_path / "feeds.yaml", sources, alerts={"operator": [ops]})

    # What ten days of collecting left in the database: the same stories the feed still lists.
    config = load_config(config_path).config
    db = Database(f"sqlite:///{db_path}")
    db.create_schema()
    with db.write() as conn:
        state.sync_sources(conn, [("ddnews", "DD News", config.sources[0].feed_urls)])
        state.finish_baseline(conn, "ddnews", collected)
    parsed = parse_feed(
        body.encode(), source_id="ddnews", feed_url=feed_server.base_url + "/feed/", now=collected
    )
    assert len(ingest(build(config, db), "ddnews", parsed.articles, collected).new) == 8
    db.dispose()

    def polls() -> int:
        return count(db_path, "SELECT count(*) FROM fetch_log")

    proc = start(config_path, db_path)
    log = Stderr(proc)
    try:
        assert smtp_server.wait_for(1, timeout=30)
        seen = polls()
        wait_until(lambda: polls() >= seen + 2)  # more polls, each followed by a check
    finally:
        assert stop(proc, log) == 0, log.text
    assert [str(m["Subject"]) for m in smtp_server.messages] == [
        "[monitor] Source DD News (ddnews) is silent"
    ]
    assert 'msg="source health changed" source=ddnews state=silent' in log.text

    proc = start(config_path, db_path)  # a restart does not repeat the notice
    log = Stderr(proc)
    try:
        seen = polls()
        wait_until(lambda: polls() >= seen + 2)
        assert len(smtp_server.messages) == 1
        feed_server.serve("/feed/", feed(feed_server, {**old, 99: now - timedelta(hours=1)}))
        assert smtp_server.wait_for(2, timeout=30)  # (that it stays at one: test_source_health)
    finally:
        assert stop(proc, log) == 0, log.text
    assert [str(m["Subject"]) for m in smtp_server.messages] == [
        "[monitor] Source DD News (ddnews) is silent",
        "[monitor] Source DD News (ddnews) recovered",
    ]
    silent_body = smtp_server.messages[0].get_body(("plain",))
    assert silent_body is not None
    assert "usually one every 24 h, so silent after 6 d" in silent_body.get_content()
