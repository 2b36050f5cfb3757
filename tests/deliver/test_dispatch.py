"""Alerts end to end in-process: app → outbox → dispatcher → real SMTP / fake Telegram.

The clock is controlled; delivery is real (aiosmtpd, a Bot-API server on loopback).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.app import App, build
from monitor.article import Article
from monitor.config import Config, load_config
from monitor.deliver.claims import process_id, start_time
from monitor.deliver.dispatch import Dispatcher
from monitor.flow import ingest
from storage import deliveries
from storage.db import Database
from storage.sources import sync_sources
from tests.conftest import SmtpServer, TelegramServer
from tests.databases import open_database
from tests.fixture_dates import SettableClock as Clock

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 11:30 IST, 15:00 JST

BASE = """\
sources:
  - id: dd
    name: DD News
    base_url: https://ddnews.gov.in
    feeds: [/en/feed/]
  - id: jt
    name: The Japan Times
    base_url: https://www.japantimes.co.jp
    feeds: [/feed/]
relevance:
  india: [India, New Delhi]
  japan: [Japan, Tokyo]
  bilateral: [India-Japan]
sectors:
  semiconductors:
    label: Semiconductors
    terms: [semiconductor*]
  rail:
    label: Rail
    terms: [Shinkansen]
"""


pytestmark = pytest.mark.usefixtures("every_backend")  # SQLite, then PostgreSQL


def setup(
    tmp_path: Path, subscribers: list[dict[str, Any]], **alerts: Any
) -> tuple[Config, Database, App, Dispatcher, Clock]:
    data = yaml.safe_load(BASE)
    data["subscribers"] = subscribers
    data["alerts"] = {"retry_delay": "60s", **alerts}
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_config(path).config
    db = open_database()
    db.create_schema()
    with db.write() as conn:
        sync_sources(conn, [("dd", "DD News", []), ("jt", "The Japan Times", [])])
    clock = Clock(NOW)
    app = build(config, db, now=clock)
    return config, db, app, app.dispatcher, clock


def art(n: int, title: str, summary: str = "", source: str = "dd", **kw: Any) -> Article:
    a = Article(
        source_id=source,
        url=f"https://{source}.example/story-{n}/",
        original_url=f"https://{source}.example/story-{n}/",
        guid=f"{source}-{n}",
        title=title,
        summary=summary,
        text="",
        author=None,
        published_at=NOW - timedelta(hours=1),
        first_seen_at=NOW,
    )
    return replace(a, **kw)


def dispatch(d: Dispatcher) -> Any:
    return asyncio.run(d.run_once())


@pytest.fixture
def tg_env(telegram_server: TelegramServer, monkeypatch: pytest.MonkeyPatch) -> TelegramServer:
    monkeypatch.setenv("MONITOR_TELEGRAM_API", telegram_server.api)
    return telegram_server


def subscriber(smtp: SmtpServer, **kw: Any) -> dict[str, Any]:
    return {
        "name": "analyst",
        "urls": [smtp.mail_url(to="analyst@example.org")],
        "timezone": "Asia/Kolkata",
        "rules": [{"name": "chips", "query": 'semicon* OR "rare earth"'}],
        **kw,
    }


def test_match_and_no_match_with_why(tmp_path: Path, smtp_server: SmtpServer) -> None:
    _, db, app, d, _ = setup(tmp_path, [subscriber(smtp_server)])
    ingest(
        app,
        "dd",
        [
            art(1, "India-Japan semiconductor pact <script>alert(1)</script> {{ 7*7 }}"),
            art(2, "India-Japan Shinkansen trial run"),
        ],
        NOW,
    )
    report = dispatch(d)
    assert report.messages == 1 and smtp_server.wait_for(1)
    [mail] = smtp_server.messages
    body = mail.get_body(("html",)).get_content()
    assert "semiconductor" in mail["Subject"] and "Shinkansen" not in mail["Subject"]
    assert "&lt;script&gt;" in body and "<script>" not in body and "{{ 7*7 }}" in body
    assert "rule chips: semicon*" in body  # the why
    assert "IST" in body  # the subscriber's zone
    assert mail["Message-ID"].startswith("<delivery-")
    assert dispatch(d).messages == 0  # nothing twice
    with db.read() as conn:
        [row] = deliveries.delivery_log(conn)
    assert row.state == "sent" and row.rules == ["chips"]


def test_email_and_telegram_each_get_one(
    tmp_path: Path, smtp_server: SmtpServer, tg_env: TelegramServer
) -> None:
    sub = subscriber(smtp_server, urls=[smtp_server.mail_url(), "tgram://123456:ABCdef/987654321"])
    _, _, app, d, _ = setup(tmp_path, [sub])
    ingest(app, "dd", [art(1, "India-Japan semiconductor fab <b>&</b> _x_")], NOW)
    assert dispatch(d).messages == 2
    assert smtp_server.wait_for(1) and tg_env.wait_for(1)
    [text] = tg_env.texts()
    assert "<b>&</b> _x_" in text and "rule chips" in text
    assert tg_env.tokens == ["123456:ABCdef"]


def test_first_collection_is_a_baseline(tmp_path: Path, smtp_server: SmtpServer) -> None:
    _, db, app, d, _ = setup(tmp_path, [subscriber(smtp_server)])
    ingest(app, "dd", [art(1, "India-Japan semiconductor pact")], NOW, baseline=NOW)
    assert dispatch(d).messages == 0
    ingest(app, "dd", [art(2, "India-Japan semiconductor plant")], NOW)
    assert dispatch(d).messages == 1
    with db.read() as conn:
        states = sorted(r.state for r in deliveries.delivery_log(conn))
    assert states == ["sent", "suppressed"]


def test_old_and_backfilled_items_never_alert_immediately(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    _, _, app, d, _ = setup(tmp_path, [subscriber(smtp_server)])
    old = art(1, "India-Japan semiconductor talks", published_at=NOW - timedelta(days=3))
    ingest(app, "dd", [old], NOW)
    ingest(app, "dd", [art(2, "India-Japan semiconductor deal")], NOW, "backfill")
    assert dispatch(d).messages == 0


def test_many_matches_fold_into_one_message(tmp_path: Path, smtp_server: SmtpServer) -> None:
    _, _, app, d, _ = setup(tmp_path, [subscriber(smtp_server)], fold_threshold=3)
    batch = [art(i, f"India-Japan semiconductor story number {i}") for i in range(8)]
    ingest(app, "dd", batch, NOW)
    report = dispatch(d)
    assert (report.messages, report.sent) == (1, 8)
    assert smtp_server.wait_for(1)
    body = smtp_server.messages[0].get_body(("html",)).get_content()
    assert all(f"story number {i}" in body for i in range(8))


def test_same_story_from_another_outlet_alerts_once(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    _, _, app, d, _ = setup(tmp_path, [subscriber(smtp_server)])
    story = ("India-Japan semiconductor pact signed", "Officials in Tokyo and New Delhi agreed.")
    ingest(app, "dd", [art(1, *story)], NOW)
    assert dispatch(d).messages == 1
    ingest(app, "jt", [art(9, *story, source="jt")], NOW)
    assert dispatch(d).messages == 0


def test_digest_waits_for_its_local_time(tmp_path: Path, smtp_server: SmtpServer) -> None:
    sub = subscriber(smtp_server, mode="digest", digest="daily", digest_at="08:00",
                     timezone="Asia/Tokyo")  # fmt: skip
    _, _, app, d, clock = setup(tmp_path, [sub])
    story = ("India-Japan semiconductor pact signed", "Officials agreed.")
    ingest(app, "dd", [art(1, *story), art(2, "India-Japan rare earth deal")], NOW)
    ingest(app, "jt", [art(3, *story, source="jt")], NOW)
    assert dispatch(d).messages == 0  # 15:00 JST
    clock.now = datetime(2026, 11, 23, 22, 59, tzinfo=UTC)  # 07:59 JST
    assert dispatch(d).messages == 0
    clock.now = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # 08:00 JST
    assert dispatch(d).messages == 1
    assert smtp_server.wait_for(1)
    body = smtp_server.messages[0].get_body(("html",)).get_content()
    assert "rare earth deal" in body and "The Japan Times" in body and "DD News" in body
    assert body.count("pact signed") == 1  # one story, both outlets named


def test_quiet_hours_hold_immediate_alerts(tmp_path: Path, smtp_server: SmtpServer) -> None:
    sub = subscriber(smtp_server, quiet_hours="22:00-07:00")
    _, _, app, d, clock = setup(tmp_path, [sub])
    clock.now = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 22:30 IST
    ingest(app, "dd", [art(1, "India-Japan semiconductor pact", published_at=clock.now)], clock.now)
    assert dispatch(d).messages == 0
    clock.now = datetime(2026, 11, 24, 1, 29, tzinfo=UTC)  # 06:59 IST
    assert dispatch(d).messages == 0
    clock.now = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # 07:00 IST
    assert dispatch(d).messages == 1


def test_smtp_down_then_up_loses_and_doubles_nothing(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    _, db, app, d, clock = setup(tmp_path, [subscriber(smtp_server)])
    smtp_server.stop()
    ingest(app, "dd", [art(1, "India-Japan semiconductor pact")], NOW)
    first = dispatch(d)
    assert first.retrying == 1 and first.messages == 0
    clock.now += timedelta(seconds=30)
    assert dispatch(d).messages == 0  # backoff: not yet
    smtp_server.start()
    clock.now += timedelta(seconds=31)
    assert dispatch(d).messages == 1
    clock.now += timedelta(hours=1)
    assert dispatch(d).messages == 0
    assert smtp_server.wait_for(1) and len(smtp_server.messages) == 1
    with db.read() as conn:
        [row] = deliveries.delivery_log(conn)
    assert row.attempts == 1 and row.state == "sent"


def test_permanently_failing_channel_does_not_block_others(
    tmp_path: Path, smtp_server: SmtpServer, tg_env: TelegramServer
) -> None:
    ops = smtp_server.mail_url(to="ops@example.org")
    sub = subscriber(smtp_server, urls=[smtp_server.mail_url(), "tgram://123456:ABCdef/987654321"])
    _, db, app, d, clock = setup(tmp_path, [sub], operator=[ops], max_attempts=3)
    tg_env.fail_with(400, "Bad Request: chat not found")
    ingest(app, "dd", [art(1, "India-Japan semiconductor pact")], NOW)
    report = dispatch(d)
    assert report.messages == 1 and report.failed == 1  # email sent; Telegram failed for good
    assert report.by_channel == {("email", "sent"): 1, ("telegram", "failed"): 1}  # metrics
    ingest(app, "dd", [art(2, "India-Japan semiconductor plant")], NOW)
    clock.now += timedelta(minutes=5)
    dispatch(d)
    recipients = [to for _, tos in smtp_server.envelopes for to in tos]
    assert recipients.count("reader@example.org") == 2
    assert recipients.count("ops@example.org") == 1  # the operator is told once
    with db.read() as conn:
        failed = deliveries.delivery_log(conn, state="failed")
    assert len(failed) == 2 and "chat not found" in (failed[0].last_error or "")


def test_a_dead_processs_claims_are_taken_over_and_sent_once(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    _, db, app, d, clock = setup(tmp_path, [subscriber(smtp_server)])
    ingest(app, "dd", [art(1, "India-Japan semiconductor pact")], NOW)
    gone = f"{socket.gethostname()}:{2**22 + 7}:1"  # a pid no process has
    with db.write() as conn:  # a process claims the row, then dies before sending
        assert len(deliveries.claim_due(conn, clock.now, gone, timedelta(hours=1))) == 1
    assert dispatch(d).messages == 1  # its claim is taken over at once, lease or not
    assert smtp_server.wait_for(1)
    with db.read() as conn:
        [row] = deliveries.delivery_log(conn)
    assert (row.state, row.unknown, row.claimed_by) == ("sent", 1, None)


def test_a_live_processs_claims_wait_for_their_lease(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    _, db, app, d, clock = setup(tmp_path, [subscriber(smtp_server)])
    ingest(app, "dd", [art(1, "India-Japan semiconductor pact")], NOW)
    alive = process_id().rsplit(":", 2)[0] + f":{os.getppid()}:{start_time(os.getppid())}"
    with db.write() as conn:  # another process (our parent: alive) holds the claim
        assert len(deliveries.claim_due(conn, clock.now, alive, timedelta(minutes=5))) == 1
    assert dispatch(d).messages == 0  # not ours: no double send while it may be sending
    clock.now += timedelta(minutes=6)  # its lease lapsed: it stopped renewing
    assert dispatch(d).messages == 1
    assert smtp_server.wait_for(1) and len(smtp_server.messages) == 1


@pytest.mark.parametrize("config_text", [textwrap.dedent(BASE)])
def test_rule_syntax_error_names_subscriber_rule_and_position(
    tmp_path: Path, config_text: str
) -> None:
    from monitor.config import ConfigError

    data = yaml.safe_load(config_text)
    data["subscribers"] = [
        {
            "name": "a",
            "urls": ["mailto://x@example.org"],
            "rules": [{"name": "r1", "query": "chips AND (x"}],
        }
    ]
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    [problem] = info.value.problems
    assert "subscribers[0].rules[0].query" in problem
    assert "subscriber 'a', rule 'r1'" in problem and "position" in problem


def test_telegrams_retry_after_is_honoured(
    tmp_path: Path, smtp_server: SmtpServer, tg_env: TelegramServer
) -> None:
    sub = subscriber(smtp_server, urls=["tgram://123456:ABCdef/987654321"])
    _, db, app, d, clock = setup(tmp_path, [sub])
    ingest(app, "dd", [art(1, "India-Japan semiconductor pact")], NOW)
    tg_env.fail_with(429, "Too Many Requests: retry after 120", times=1)
    report = dispatch(d)
    assert report.retrying == 1 and tg_env.messages == []
    with db.read() as conn:
        [row] = deliveries.delivery_log(conn)
    assert row.next_attempt_at is not None
    assert row.next_attempt_at >= NOW + timedelta(seconds=120)  # not the 60 s retry_delay
    clock.now += timedelta(seconds=119)
    assert dispatch(d).messages == 0
    clock.now += timedelta(seconds=2)
    assert dispatch(d).messages == 1 and len(tg_env.messages) == 1


class GatedSmtp(SmtpServer):
    """Holds each message's DATA reply until `gate` messages are in flight (or a second passed),
    recording how many were in flight at once: a provider with latency, seen from the server."""

    def __init__(self, gate: int) -> None:
        super().__init__()
        self.gate = gate
        self.in_flight = 0
        self.most = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.in_flight += 1  # aiosmtpd runs every session on one event loop
        self.most = max(self.most, self.in_flight)
        try:
            for _ in range(50):
                if self.in_flight >= self.gate:
                    break
                await asyncio.sleep(0.02)
            return await super().handle_DATA(server, session, envelope)
        finally:
            self.in_flight -= 1


@pytest.mark.parametrize("parallel", [1, 4])
def test_a_burst_goes_out_a_few_at_a_time_each_message_once(tmp_path: Path, parallel: int) -> None:
    smtp = GatedSmtp(gate=parallel)
    try:
        _, db, app, d, _ = setup(
            tmp_path, [subscriber(smtp)], fold_threshold=50, parallel_sends=parallel
        )
        ingest(
            app,
            "dd",
            [art(i, f"India-Japan semiconductor plant number {i}") for i in range(12)],
            NOW,
        )
        report = dispatch(d)
        assert (report.messages, report.sent) == (12, 12)
        assert smtp.wait_for(12)
        assert smtp.most == parallel  # never more in flight than asked, and as many as asked
        ids = [m["Message-ID"] for m in smtp.messages]
        assert len(set(ids)) == 12
        with db.read() as conn:
            log = deliveries.delivery_log(conn)
        assert sorted(r.state for r in log) == ["sent"] * 12
        assert {str(r.id) for r in log} == {re.findall(r"<delivery-(\d+)\b", i)[0] for i in ids}
        assert dispatch(d).messages == 0
    finally:
        smtp.stop()


def test_a_telegram_chat_gets_its_burst_in_order(tmp_path: Path, tg_env: TelegramServer) -> None:
    sub = {
        "name": "analyst",
        "urls": ["tgram://123456:ABCdef/42"],
        "rules": [{"name": "chips", "query": "semicon*"}],
    }
    _, _, app, d, _ = setup(tmp_path, [sub], fold_threshold=50, parallel_sends=8)
    ingest(
        app, "dd", [art(i, f"India-Japan semiconductor plant number {i}") for i in range(8)], NOW
    )
    assert dispatch(d).messages == 8 and tg_env.wait_for(8)
    order = [int(t.split("number ")[1].split()[0]) for t in tg_env.texts()]
    assert order == sorted(order)


def test_a_refused_message_holds_back_the_ones_not_started_then_all_go_once(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    _, db, app, d, clock = setup(
        tmp_path, [subscriber(smtp_server)], fold_threshold=50, parallel_sends=1
    )
    ingest(
        app, "dd", [art(i, f"India-Japan semiconductor plant number {i}") for i in range(4)], NOW
    )
    smtp_server.fail_next(1)
    report = dispatch(d)
    assert (report.messages, report.retrying) == (0, 1)
    with db.read() as conn:
        states = [r.state for r in deliveries.delivery_log(conn)]
    assert states.count("sent") == 0 and len(states) == 4
    clock.now = NOW + timedelta(minutes=2)  # past the first retry (60 s)
    assert dispatch(d).messages == 4
    assert smtp_server.wait_for(4)
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 4
