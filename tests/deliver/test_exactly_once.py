"""Exactly-once under real operations, with real processes: a daemon starting beside a sending
poll, a second daemon, a poll picking up a dead process's claims, a slow mail server, a failed
"sent" write, a credentials file missing at send time, a first collection that crashed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, FeedServer, SmtpServer, TelegramServer, write_config
from tests.fixture_dates import FixtureClock
from tests.processes import count, wait_until

FEED = """<?xml version='1.0'?><!-- SYNTHETIC: DD-style feed for delivery tests -->
<rss version='2.0'><channel><title>DD News</title>{items}</channel></rss>"""


def item(n: int, title: str, published: str = "N-1h") -> str:
    when = FixtureClock.real().text(f"{published} rfc822")
    return (
        f"<item><title>{title}</title><link>https://ddnews.gov.in/en/story-{n}/</link>"
        f"<guid isPermaLink='false'>https://ddnews.gov.in/en/?p={n}</guid>"
        f"<pubDate>{when}</pubDate>"
        "<description>Officials in New Delhi and Tokyo agreed.</description></item>"
    )


def environ(telegram: TelegramServer | None = None, **extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    if telegram is not None:
        out["MONITOR_TELEGRAM_API"] = telegram.api
    return out | extra


def command(cfg: Path, db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", "--config", str(cfg), "--db", str(db), *args]


def run(cfg: Path, db: Path, *args: str, **env: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(cfg, db, *args), capture_output=True, text=True, timeout=120, cwd=REPO,
        env=environ(**env),
    )  # fmt: skip


def start(cfg: Path, db: Path, *args: str, **env: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(cfg, db, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=REPO, env=environ(**env),
    )  # fmt: skip


def finish(proc: subprocess.Popen[str], signal_first: bool = True) -> tuple[int, str]:
    if signal_first and proc.poll() is None:
        proc.terminate()
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, err


def config(tmp_path: Path, feed_server: FeedServer, urls: list[str], **alerts: Any) -> Path:
    source = {"id": "ddnews", "name": "DD News", "base_url": feed_server.base_url,
              "feeds": ["/en/feed/"], "poll_interval": "1s"}  # fmt: skip
    subscribers = [{"name": "analyst", "urls": urls, "rules": [{"name": "all", "query": "Tokyo"}]}]
    policy = {"dispatch_interval": "1s", "retry_delay": "1s", **alerts}
    return write_config(tmp_path / "feeds.yaml", [source], subscribers=subscribers, alerts=policy)


def sent_log(cfg: Path, db: Path) -> list[dict[str, Any]]:
    done = run(cfg, db, "alerts", "log", "--json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def test_a_daemon_starting_while_a_poll_sends_repeats_nothing(
    tmp_path: Path, feed_server: FeedServer, telegram_server: TelegramServer
) -> None:
    cfg = config(tmp_path, feed_server, ["tgram://123456:ABCdef/42"])
    db = tmp_path / "m.db"
    feed_server.serve("/en/feed/", FEED.format(items=""))
    assert run(cfg, db, "poll", telegram=telegram_server).returncode == 0  # baseline
    titles = [f"Tokyo and New Delhi agree, part {n}" for n in range(4)]
    feed_server.serve("/en/feed/", FEED.format(items="".join(item(n, t) for n, t in
                                                             enumerate(titles))))  # fmt: skip
    telegram_server.delay = 2.0  # the poll is still sending when the daemon starts
    poll = start(cfg, db, "poll", telegram=telegram_server)
    wait_until(lambda: len(telegram_server.messages) >= 1, timeout=30)
    daemon = start(cfg, db, "run", telegram=telegram_server)
    assert finish(poll, signal_first=False)[0] == 0
    wait_until(lambda: count(db, "SELECT count(*) FROM delivery WHERE state = 'sent'") == 4)
    time.sleep(2)  # the daemon's own dispatch rounds (every second) must not resend
    code, err = finish(daemon)
    assert code == 0, err
    assert sorted(m["text"].splitlines()[0] for m in telegram_server.messages) == sorted(titles)


def test_a_poll_sends_what_a_killed_process_had_claimed(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    cfg = config(tmp_path, feed_server, [smtp_server.url])
    db = tmp_path / "m.db"
    feed_server.serve("/en/feed/", FEED.format(items=""))
    run(cfg, db, "poll")  # baseline
    feed_server.serve("/en/feed/", FEED.format(items=item(1, "Tokyo and New Delhi agree")))
    killed = run(cfg, db, "poll", MONITOR_CRASH_AT="after_claim")
    assert killed.returncode == -9  # SIGKILL with the delivery claimed, not sent
    assert count(db, "SELECT count(*) FROM delivery WHERE state = 'sending'") == 1
    again = run(cfg, db, "poll")  # cron's next poll, no daemon anywhere
    assert again.returncode == 0, again.stderr
    assert smtp_server.wait_for(1) and len(smtp_server.messages) == 1
    assert [r["status"] for r in sent_log(cfg, db)] == ["sent"]


def test_a_second_daemon_on_one_sqlite_file_refuses_to_start(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    cfg = config(tmp_path, feed_server, [smtp_server.url])
    db = tmp_path / "m.db"
    feed_server.serve("/en/feed/", FEED.format(items=""))
    first = start(cfg, db, "run")
    try:
        wait_until(lambda: count(db, "SELECT count(*) FROM fetch_log") > 0)
        second = run(cfg, db, "run")
        assert second.returncode == 2
        assert "only one daemon may run per SQLite database" in second.stderr
        assert "Traceback" not in second.stderr
        assert run(cfg, db, "poll").returncode == 0  # other commands still run beside it
    finally:
        code, err = finish(first)
    assert code == 0, err


def test_a_slow_mail_server_gets_one_repeat_then_the_operator_is_told(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    operator = SmtpServer()
    try:
        cfg = config(tmp_path, feed_server, [smtp_server.url], send_timeout="1s",
                     operator=[operator.mail_url(to="ops@example.org")])  # fmt: skip
        db = tmp_path / "m.db"
        feed_server.serve("/en/feed/", FEED.format(items=""))
        run(cfg, db, "poll")  # baseline
        feed_server.serve("/en/feed/", FEED.format(items=item(1, "Tokyo and New Delhi agree")))
        smtp_server.reply_delay = 2.5  # takes the message, answers after the 1 s timeout
        for _ in range(6):  # polls one after another, each after the 1 s retry delay
            run(cfg, db, "poll")
            time.sleep(1.1)
        assert len(smtp_server.messages) == 2  # the send, and the one documented repeat
        assert len({m["Message-ID"] for m in smtp_server.messages}) == 1
        [row] = sent_log(cfg, db)
        assert row["status"] == "failed" and "outcome unknown" in row["last_error"]
        assert operator.wait_for(1) and len(operator.messages) == 1
        assert "failed" in operator.messages[0]["Subject"]
    finally:
        operator.stop()


def test_a_failed_write_of_sent_is_retried_and_the_message_not_resent(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    cfg = config(tmp_path, feed_server, [smtp_server.url])
    db = tmp_path / "m.db"
    feed_server.serve("/en/feed/", FEED.format(items=""))
    run(cfg, db, "poll")
    feed_server.serve("/en/feed/", FEED.format(items=item(1, "Tokyo and New Delhi agree")))
    done = run(cfg, db, "poll", MONITOR_FAIL_AT="record_sent:2")  # locked twice, then fine
    assert done.returncode == 0, done.stderr
    assert "retrying the write" in done.stderr
    run(cfg, db, "poll")
    assert len(smtp_server.messages) == 1
    assert [r["status"] for r in sent_log(cfg, db)] == ["sent"]


def test_a_missing_credentials_file_at_send_time_is_retried_and_told_once(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    operator = SmtpServer()
    creds = tmp_path / "monitor.env"
    try:
        cfg = config(tmp_path, feed_server, [smtp_server.url], credentials_file=str(creds),
                     operator=[operator.mail_url(to="ops@example.org")])  # fmt: skip
        db = tmp_path / "m.db"
        # an item at baseline, so the feed is not "stale" for listing nothing
        baseline = item(0, "Delhi weekly round-up", "N-1h")
        feed_server.serve("/en/feed/", FEED.format(items=baseline))
        daemon = start(cfg, db, "run")
        try:
            wait_until(lambda: count(db, "SELECT count(*) FROM fetch_log") > 0)
            news = item(1, "Tokyo and New Delhi agree")
            feed_server.serve("/en/feed/", FEED.format(items=baseline + news))
            wait_until(lambda: count(db, "SELECT count(*) FROM delivery WHERE attempts >= 2") == 1)
            assert count(db, "SELECT count(*) FROM delivery WHERE state = 'sending'") == 0
            assert operator.wait_for(1) and "cannot be sent" in operator.messages[0]["Subject"]
            creds.write_text("UNUSED=1\n")  # the redeploy finished
            assert smtp_server.wait_for(1, timeout=30)
            assert operator.wait_for(2) and "can be sent again" in operator.messages[1]["Subject"]
        finally:
            code, err = finish(daemon)
        assert code == 0, err
        assert "dispatch crashed" not in err
        assert len(smtp_server.messages) == 1 and len(operator.messages) == 2
    finally:
        operator.stop()


def test_after_a_crashed_first_poll_the_news_since_the_source_was_added_alerts(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    cfg = config(tmp_path, feed_server, [smtp_server.url])
    db = tmp_path / "m.db"
    feed_server.serve("/en/feed/", FEED.format(items=item(1, "Tokyo talks, old news", "N-3d")))
    first = run(cfg, db, "poll", "--json", MONITOR_FAIL_AT="ingest:1")  # the store fails once
    assert first.returncode == 1 and "Traceback" not in first.stdout
    [report] = [r for r in json.loads(first.stdout) if "feeds" in r]
    assert report["feeds"][0]["error_kind"] == "crash"
    assert "database is locked" in report["feeds"][0]["error"]
    time.sleep(1.1)  # feed dates have whole seconds: be a second past the source's adding
    news = item(2, "Tokyo and New Delhi agree", "N+0")  # published after the source was added
    feed_server.serve("/en/feed/", FEED.format(items=item(1, "Tokyo talks, old news", "N-3d")
                                               + news))  # fmt: skip
    assert run(cfg, db, "poll").returncode == 0  # the first collection that succeeds
    assert smtp_server.wait_for(1) and len(smtp_server.messages) == 1
    assert "agree" in smtp_server.messages[0]["Subject"]
    reasons = {r["title"]: r["reason"] for r in sent_log(cfg, db)}
    assert reasons["Tokyo talks, old news"].startswith("baseline")


@pytest.mark.parametrize("attempts", [1])
def test_every_incident_of_a_destination_is_told_and_so_is_its_end(
    tmp_path: Path,
    feed_server: FeedServer,
    smtp_server: SmtpServer,
    telegram_server: TelegramServer,
    attempts: int,
) -> None:
    cfg = config(tmp_path, feed_server, ["tgram://123456:ABCdef/42"], max_attempts=attempts,
                 operator=[smtp_server.mail_url(to="ops@example.org")])  # fmt: skip
    db = tmp_path / "m.db"
    feed_server.serve("/en/feed/", FEED.format(items=""))
    run(cfg, db, "poll", telegram=telegram_server)
    items = ""
    for n, (failing, expected) in enumerate([(True, 1), (False, 2), (True, 3)], 1):
        if failing:
            telegram_server.fail_with(502, "Bad Gateway")
        else:
            telegram_server.recover()
        items += item(n, f"Tokyo and New Delhi agree, round {n}")
        feed_server.serve("/en/feed/", FEED.format(items=items))
        run(cfg, db, "poll", telegram=telegram_server)
        assert smtp_server.wait_for(expected)
        assert len(smtp_server.messages) == expected
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert "failed" in subjects[0] and "work again" in subjects[1] and "failed" in subjects[2]
