"""Alerts through real processes: `monitor poll`/`monitor run`, SIGKILL mid-delivery, restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, FeedServer, SmtpServer, TelegramServer, write_config
from tests.fixture_dates import FixtureClock
from tests.processes import count, wait_until

FEED = """<?xml version='1.0'?><!-- SYNTHETIC: DD-style feed for alert tests -->
<rss version='2.0'><channel><title>DD News</title>{items}</channel></rss>"""


def item(n: int, title: str) -> str:
    # Published an hour before the machine's clock: fresh, well inside alerts.max_age.
    published = FixtureClock.real().text("N-1h rfc822")
    return (
        f"<item><title>{title}</title><link>https://ddnews.gov.in/en/story-{n}/</link>"
        f"<guid isPermaLink='false'>https://ddnews.gov.in/en/?p={n}</guid>"
        f"<pubDate>{published}</pubDate>"
        "<description>Officials in New Delhi and Tokyo agreed.</description></item>"
    )


def env(telegram: TelegramServer | None = None, crash: str | None = None) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    if telegram is not None:
        out["MONITOR_TELEGRAM_API"] = telegram.api
    if crash:
        out["MONITOR_CRASH_AT"] = crash
    return out


def run(
    cfg: Path, db: Path, *args: str, **kw: str | TelegramServer | None
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "monitor", "--config", str(cfg), "--db", str(db), *args]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env(**kw),  # type: ignore[arg-type]
    )


def start_daemon(
    cfg: Path, db: Path, telegram: TelegramServer | None = None
) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "monitor", "--config", str(cfg), "--db", str(db), "run"]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env(telegram)
    )


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    return err


@pytest.fixture
def alert_setup(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer, db_path: Path
) -> tuple[Path, Path]:
    feed_server.serve("/en/feed/", FEED.format(items=item(1, "India-Japan semiconductor pact")))
    source = {"id": "ddnews", "name": "DD News", "base_url": feed_server.base_url,
              "feeds": ["/en/feed/"]}  # fmt: skip
    subscribers = [
        {
            "name": "analyst",
            "urls": [
                smtp_server.mail_url(to="analyst@example.org"),
                "tgram://123456:ABCdef/987654321",
            ],
            "rules": [{"name": "chips", "query": "semicon*"}],
        }
    ]
    cfg = write_config(tmp_path / "feeds.yaml", [source], subscribers=subscribers)
    return cfg, db_path


def test_new_item_alerts_once_by_email_and_telegram_and_restart_sends_nothing(
    alert_setup: tuple[Path, Path],
    feed_server: FeedServer,
    smtp_server: SmtpServer,
    telegram_server: TelegramServer,
) -> None:
    cfg, db = alert_setup
    assert run(cfg, db, "poll", telegram=telegram_server).returncode == 0  # baseline
    assert smtp_server.messages == [] and telegram_server.messages == []
    feed_server.serve(
        "/en/feed/",
        FEED.format(
            items=item(1, "India-Japan semiconductor pact")
            + item(2, "India-Japan semiconductor fab opens")
        ),
    )
    proc = start_daemon(cfg, db, telegram_server)
    try:
        assert smtp_server.wait_for(1, timeout=30) and telegram_server.wait_for(1, timeout=30)
    finally:
        stop(proc)
    [mail] = smtp_server.messages
    assert "semiconductor fab opens" in mail["Subject"]
    assert "rule chips: semicon*" in mail.get_body(("html",)).get_content()
    assert "rule chips" in telegram_server.texts()[0]
    # restart: polls again (304), dispatches, and sends nothing more
    proc = start_daemon(cfg, db, telegram_server)
    try:
        before = count(db, "SELECT count(*) FROM fetch_log")
        wait_until(lambda: count(db, "SELECT count(*) FROM fetch_log") > before)
    finally:
        err = stop(proc)
    assert len(smtp_server.messages) == 1 and len(telegram_server.messages) == 1, err


@pytest.mark.parametrize(("crash", "repeats"), [("after_claim", (0, 0)), ("after_send", (1, 2))])
def test_sigkill_during_delivery_loses_nothing_and_repeats_at_most_once(
    alert_setup: tuple[Path, Path],
    feed_server: FeedServer,
    smtp_server: SmtpServer,
    telegram_server: TelegramServer,
    crash: str,
    repeats: tuple[int, int],
) -> None:
    cfg, db = alert_setup
    run(cfg, db, "poll", telegram=telegram_server)  # baseline
    feed_server.serve(
        "/en/feed/",
        FEED.format(items=item(2, "India-Japan semiconductor fab opens")),
    )
    killed = run(cfg, db, "poll", telegram=telegram_server, crash=crash)
    assert killed.returncode == -signal.SIGKILL
    proc = start_daemon(cfg, db, telegram_server)
    try:
        wait_until(lambda: count(db, "SELECT count(*) FROM delivery WHERE state = 'sent'") == 2)
    finally:
        stop(proc)
    mails = [m for m in smtp_server.messages if "fab opens" in m["Subject"]]
    texts = [t for t in telegram_server.texts() if "fab opens" in t]
    assert len(mails) >= 1 and len(texts) >= 1  # nothing lost
    # Killed after a send but before recording it, a destination gets that message again once;
    # sends to the two destinations run concurrently, so one or both may have been in flight.
    low, high = repeats
    assert low <= len(mails) + len(texts) - 2 <= high
    assert len(mails) <= 2 and len(texts) <= 2
    assert len({m["Message-ID"] for m in mails}) == 1  # a repeat carries the same Message-ID
    assert count(db, "SELECT count(*) FROM delivery WHERE state IN ('pending', 'sending')") == 0


def test_alerts_test_log_and_rules_try(
    alert_setup: tuple[Path, Path],
    feed_server: FeedServer,
    smtp_server: SmtpServer,
    telegram_server: TelegramServer,
) -> None:
    import json

    cfg, db = alert_setup
    sent = run(cfg, db, "alerts", "test", "analyst", telegram=telegram_server)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert smtp_server.wait_for(1) and telegram_server.wait_for(1)
    assert "ABCdef" not in sent.stdout  # the Telegram token is redacted
    unknown = run(cfg, db, "alerts", "test", "nobody")
    assert unknown.returncode == 2 and "unknown subscriber" in unknown.stderr

    run(cfg, db, "poll", telegram=telegram_server)  # baseline: recorded, suppressed
    log = json.loads(run(cfg, db, "alerts", "log", "--json").stdout)
    assert {r["status"] for r in log} == {"suppressed"} and len(log) == 2
    assert all(r["reason"].startswith("baseline") and r["rules"] == ["chips"] for r in log)
    assert "ABCdef" not in json.dumps(log)

    tried = json.loads(
        run(cfg, db, "rules", "try", 'semicon* AND NOT "rare earth"', "--json").stdout
    )
    assert [t["title"] for t in tried] == ["India-Japan semiconductor pact"]
    assert tried[0]["terms"] == ["semicon*"]
    assert json.loads(run(cfg, db, "rules", "try", "hydrogen", "--json").stdout) == []
    bad = run(cfg, db, "rules", "try", "chips AND (")
    assert bad.returncode == 2 and "position" in bad.stderr
