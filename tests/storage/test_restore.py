"""A backup taken while the daemon ingests and alerts, restored into a fresh state directory:
the daemon started on it re-sends nothing already sent, and still sends what is new."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

from tests.conftest import FeedServer, SmtpServer, write_config
from tests.processes import Stderr, count, monitor, start, stop, wait_until


def story(n: int) -> str:
    return f"India-Japan Shinkansen deal, phase {n}"


def rss(server: FeedServer, items: list[int], published: datetime) -> str:
    """A feed whose items n are India–Japan rail stories (each its own story)."""
    entries = "".join(
        f"<item><title>{escape(story(n))}</title><link>{server.base_url}/story-{n}/</link>"
        f"<guid>{server.base_url}/story-{n}/</guid>"
        f"<description>Tokyo and New Delhi agree on phase {n} of the high-speed line."
        f"</description><pubDate>{format_datetime(published)}</pubDate></item>"
        for n in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>DD News'
        f"</title><link>{server.base_url}/</link>{entries}</channel></rss>"
    )


def subjects(smtp: SmtpServer) -> list[str]:
    return [str(m["Subject"]).removesuffix(" — DD News") for m in smtp.messages]


def test_restored_backup_resends_nothing_already_sent(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    published = datetime.now(UTC) - timedelta(hours=1)  # recent: alerts are not too old
    feed_server.serve("/feed/", rss(feed_server, [1, 2, 3], published))
    config = write_config(
        tmp_path / "feeds.yaml",
        [
            {
                "id": "ddnews",
                "name": "DD News",
                "base_url": feed_server.base_url,
                "poll_interval": "1s",
                "feeds": ["/feed/"],
            }
        ],
        alerts={"dispatch_interval": "1s"},
        subscribers=[
            {
                "name": "analyst",
                "urls": [smtp_server.mail_url(to="analyst@example.org")],
                "rules": [{"name": "rail", "query": "Shinkansen"}],
            }
        ],
    )
    first_state = tmp_path / "state-1"
    live_db = first_state / "monitor.db"
    proc = start(config, None, STATE_DIRECTORY=str(first_state))
    log = Stderr(proc)
    try:
        # The first collection is a silent baseline; the next poll finds two new stories.
        wait_until(lambda: count(live_db, "SELECT count(*) FROM article") == 3)
        feed_server.serve("/feed/", rss(feed_server, [1, 2, 3, 4, 5], published))
        assert smtp_server.wait_for(2, timeout=30)
        wait_until(lambda: count(live_db, "SELECT count(*) FROM delivery WHERE state='sent'") == 2)
        backup = tmp_path / "backups" / "monitor.db"
        made = monitor("backup", str(backup), db=live_db)  # while the daemon keeps polling
        assert made.returncode == 0, made.stderr
    finally:
        assert stop(proc, log) == 0, log.text
    assert sorted(subjects(smtp_server)) == [story(4), story(5)]

    second_state = tmp_path / "state-2"  # a fresh machine: only the backup comes along
    second_state.mkdir()
    restored = second_state / "monitor.db"
    shutil.copyfile(backup, restored)
    polls_in_backup = count(restored, "SELECT count(*) FROM fetch_log")
    proc = start(config, None, STATE_DIRECTORY=str(second_state))
    log = Stderr(proc)
    try:
        # It polls the same feed (stories 1–5 again) and dispatches, several times over ...
        wait_until(lambda: count(restored, "SELECT count(*) FROM fetch_log") >= polls_in_backup + 3)
        log.wait_for(r'msg="daemon started"')
        # ... and a story published after the backup is still sent, once.
        feed_server.serve("/feed/", rss(feed_server, [1, 2, 3, 4, 5, 6], published))
        assert smtp_server.wait_for(3, timeout=30)
        wait_until(lambda: count(restored, "SELECT count(*) FROM delivery WHERE state='sent'") == 3)
    finally:
        assert stop(proc, log) == 0, log.text
    assert subjects(smtp_server)[2] == story(6)
    assert len(smtp_server.messages) == 3  # 4 and 5 were not sent again
    pending = "SELECT count(*) FROM delivery WHERE state IN ('pending', 'sending')"
    assert count(restored, pending) == 0  # and nothing is left waiting to go out
    assert count(live_db, "SELECT count(*) FROM article") == 5  # the old state dir was not used
