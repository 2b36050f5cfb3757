"""Source health on a real SQLite file with a controlled clock; operator notices over real SMTP
and the fake Telegram Bot API: silent, failing and broken sources are told once, and recovery."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.app import build
from monitor.article import Article
from monitor.config import Config, load_config
from monitor.flow import ingest
from monitor.operate.health import assess, rhythm
from monitor.operate.notices import HealthReporter
from storage import crawls
from storage import health as health_store
from storage import sources as state
from storage.db import Database
from tests.articles import article
from tests.conftest import SmtpServer, TelegramServer
from tests.databases import open_database
from tests.fixture_dates import SettableClock as Clock

T0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # the first collection
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)

CONFIG = """\
sources:
  - id: dd
    name: DD News
    base_url: https://ddnews.gov.in
    poll_interval: 10m
    feeds: [/en/feed/]
  - id: orf
    name: Observer Research Foundation
    base_url: https://www.orfonline.org
    crawl:
      listing_paths: [/expert-speak]
  - id: paused
    name: Switched off
    base_url: https://example.org
    enabled: false
    feeds: [/feed/]
relevance:
  india: [India]
  japan: [Japan]
  bilateral: [India-Japan]
sectors:
  rail:
    label: Rail
    terms: [Shinkansen]
"""


def make_config(tmp_path: Path, disabled: tuple[str, ...] = (), **alerts: Any) -> Config:
    data = yaml.safe_load(textwrap.dedent(CONFIG))
    data["alerts"] = alerts
    for source in data["sources"]:
        if source["id"] in disabled:
            source["enabled"] = False
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path).config


pytestmark = pytest.mark.usefixtures("every_backend")  # SQLite, then PostgreSQL


def open_db(tmp_path: Path) -> Database:
    db = open_database()
    db.create_schema()
    with db.write() as conn:
        state.sync_sources(
            conn, [("dd", "DD News", []), ("orf", "ORF", []), ("paused", "Switched off", [])]
        )
    return db


def collect(db: Database, config: Config, articles: list[Article], now: datetime) -> None:
    """What a successful poll leaves behind: the articles, and the source's poll recorded."""
    for a in articles:
        a.first_seen_at = now
    ingest(build(config, db), "dd", articles, now)
    with db.write() as conn:
        state.finish_baseline(conn, "dd", now)
        state.record_source_poll(conn, "dd", now=now, error=None)


def every_12_hours(count: int, last: datetime, start: int = 0) -> list[Article]:
    return [article(start + i, last - i * 12 * HOUR) for i in range(count)]


def test_silent_after_follows_each_sources_rhythm() -> None:
    ten_min = 600.0
    assert rhythm([T0 - i * HOUR for i in range(5)], ten_min).silent_after == 7 * DAY  # unknown
    twice_a_day = rhythm([T0 - i * 12 * HOUR for i in range(30)], ten_min)
    assert twice_a_day.median_gap == 12 * HOUR and twice_a_day.silent_after == 3 * DAY  # floor
    every_two_days = rhythm([T0 - i * 2 * DAY for i in range(30)], ten_min)
    assert every_two_days.silent_after == 12 * DAY  # 6 × the median gap
    monthly = rhythm([T0 - i * 30 * DAY for i in range(10)], ten_min)
    assert monthly.silent_after == 30 * DAY  # capped
    # One long holiday gap does not stretch a regular rhythm (median, not mean).
    holiday = [T0 - i * 12 * HOUR for i in range(20)] + [T0 - 40 * DAY]
    assert rhythm(holiday, ten_min).silent_after == 3 * DAY
    # Never before three chances to collect: a source polled every two days.
    assert rhythm([T0 - i * 12 * HOUR for i in range(30)], 2 * 86400).silent_after == 6 * DAY


def test_states_for_status(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    db = open_db(tmp_path)

    def judged(now: datetime) -> dict[str, Any]:
        with db.read() as conn:
            return {k: (h.state, h.alarm) for k, h in assess(conn, config, now).items()}

    assert judged(T0) == {
        "dd": ("never polled", None),
        "orf": ("never polled", None),
        "paused": ("disabled", None),
    }
    collect(db, config, every_12_hours(10, T0 - HOUR), T0)
    assert judged(T0 + HOUR)["dd"] == ("ok", "ok")
    with db.read() as conn:
        silent = assess(conn, config, T0 + 3 * DAY + HOUR)["dd"]
    assert (silent.state, silent.alarm) == ("silent", "silent")
    assert silent.detail == (
        "no new article since 2026-11-23 06:00 UTC (3.0 d); usually one every 12 h, "
        "so silent after 3 d"
    )
    assert silent.last_new_at == T0 and silent.silent_after == 3 * DAY

    # One failed poll shows at once in status; the operator hears of it only when it lasts:
    # FAILING_POLLS polls in a row, and FAILING_FOR since the last success (T0).
    for n, at in enumerate((T0 + HOUR, T0 + 70 * MINUTE, T0 + 80 * MINUTE), start=1):
        with db.write() as conn:
            state.record_source_poll(conn, "dd", now=at, error="HTTP 503 from the feed")
        assert judged(at)["dd"] == ("failing", "failing" if n == 3 else "ok")
        with db.read() as conn:
            h = assess(conn, config, at)["dd"]
        polls = "the last poll" if n == 1 else f"the last {n} polls"
        assert h.detail == (
            f"{polls} failed; last success 2026-11-23 06:00 UTC; last error: HTTP 503 from the feed"
        )
        assert h.alarm_detail == (h.detail if n == 3 else "")  # what the notice would say
    with db.write() as conn:
        state.record_source_poll(conn, "dd", now=T0 + 90 * MINUTE, error=None)
    assert judged(T0 + 90 * MINUTE)["dd"] == ("ok", "ok")


def test_extraction_broken_needs_two_crawls_to_alarm(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    db = open_db(tmp_path)

    def crawl(at: datetime, problem: str | None, listing_pages: int = 1) -> None:
        with db.write() as conn:
            crawls.record_crawl(
                conn,
                source_id="orf",
                started_at=at,
                listing_pages=listing_pages,
                responses=1,
                problem=problem,
            )

    def orf(now: datetime) -> tuple[str, str | None, str]:
        with db.read() as conn:
            h = assess(conn, config, now, only=["orf"])["orf"]
        return h.state, h.alarm, h.detail

    crawl(T0, None)
    assert orf(T0)[:2] == ("ok", "ok")
    crawl(T0 + HOUR, "listing pages had no article links (layout changed?)")
    assert orf(T0 + HOUR)[:2] == ("extraction broken", "ok")
    crawl(T0 + 2 * HOUR, "listing pages had no article links (layout changed?)")
    state_now, alarm, detail = orf(T0 + 2 * HOUR)
    assert (state_now, alarm) == ("extraction broken", "extraction broken")
    assert (
        detail
        == "the last crawl found a problem: listing pages had no article links (layout changed?)"
    )
    # An enrichment fetch (article pages only) says nothing about the listing layout.
    crawl(T0 + 3 * HOUR, None, listing_pages=0)
    assert orf(T0 + 3 * HOUR)[:2] == ("extraction broken", "extraction broken")
    crawl(T0 + 4 * HOUR, None)
    assert orf(T0 + 4 * HOUR)[:2] == ("ok", "ok")


def ops_subjects(smtp: SmtpServer) -> list[str]:
    return [str(m["Subject"]) for m in smtp.messages]


def test_silent_source_is_told_once_across_checks_and_a_restart_then_recovery(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = make_config(tmp_path, operator=[smtp_server.mail_url(to="ops@example.org")])
    clock = Clock(T0)

    def reporter() -> HealthReporter:  # a fresh daemon process: new objects, same database file
        db = open_db(tmp_path)
        dispatcher = build(config, db, now=clock).dispatcher
        return HealthReporter(config, db, dispatcher.tell_operator, now=clock)

    first = reporter()
    collect(first.db, config, every_12_hours(10, T0 - HOUR), T0)
    clock.now = T0 + HOUR
    assert first.check() == []  # ok from the start: nothing to tell

    clock.now = T0 + 3 * DAY + HOUR
    [notice] = first.check()
    assert (notice.source, notice.state, notice.delivered) == ("dd", "silent", True)
    clock.now += HOUR
    assert first.check() == []  # the next maintenance run: still silent, already told
    assert smtp_server.wait_for(1)
    assert ops_subjects(smtp_server) == ["[monitor] Source DD News (dd) is silent"]
    body = smtp_server.messages[0].get_body(("plain", "html"))
    assert body is not None and "usually one every 12 h" in body.get_content()

    second = reporter()  # restart
    clock.now += HOUR
    assert second.check() == []
    with second.db.read() as conn:
        row = health_store.load(conn)["dd"]
    assert (row.state, row.reported_state) == ("silent", "silent")

    collect(second.db, config, [article(99, clock.now - HOUR)], clock.now)  # it produces again
    [recovered] = second.check()
    assert (recovered.state, recovered.delivered) == ("ok", True)
    clock.now += HOUR
    assert second.check() == []
    assert reporter().check() == []
    assert smtp_server.wait_for(2)
    assert ops_subjects(smtp_server) == [
        "[monitor] Source DD News (dd) is silent",
        "[monitor] Source DD News (dd) recovered",
    ]
    assert len(smtp_server.messages) == 2


def test_failing_source_notice_waits_for_the_operator_channel(
    tmp_path: Path, telegram_server: TelegramServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_TELEGRAM_API", telegram_server.api)
    config = make_config(tmp_path, operator=["tgram://123456:ABCdef/987654321"])
    clock = Clock(T0)
    db = open_db(tmp_path)
    tell = build(config, db, now=clock).dispatcher.tell_operator
    health = HealthReporter(config, db, tell, now=clock)
    collect(db, config, every_12_hours(10, T0 - HOUR), T0)
    assert health.check() == []

    telegram_server.fail_with(502, "Bad Gateway")  # the operator channel is down for a while
    for _ in range(3):
        clock.now += 30 * MINUTE
        with db.write() as conn:
            state.record_source_poll(conn, "dd", now=clock.now, error="HTTP 500 from the feed")
        health.check()
    with db.read() as conn:
        row = health_store.load(conn)["dd"]
    assert (row.state, row.reported_state, row.attempts) == ("failing", "ok", 1)
    assert row.retry_at == clock.now + 5 * MINUTE
    assert health.check() == []  # not before retry_at

    telegram_server.recover()
    clock.now += 5 * MINUTE
    [told] = health.check()
    assert (told.state, told.delivered) == ("failing", True)
    assert health.check() == []
    with db.write() as conn:
        state.record_source_poll(conn, "dd", now=clock.now, error=None)
    [back] = health.check()
    assert back.state == "ok"
    texts = telegram_server.texts()
    assert len(texts) == 2
    assert texts[0].startswith("[monitor] Source DD News (dd) is failing")
    assert "the last 3 polls failed" in texts[0] and "HTTP 500 from the feed" in texts[0]
    assert texts[1].startswith("[monitor] Source DD News (dd) recovered")
    assert "it was failing" in texts[1]


def test_a_problem_gone_before_it_was_told_is_not_reported(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = make_config(tmp_path, operator=[smtp_server.mail_url(to="ops@example.org")])
    clock = Clock(T0)
    db = open_db(tmp_path)
    tell = build(config, db, now=clock).dispatcher.tell_operator
    health = HealthReporter(config, db, tell, now=clock)
    collect(db, config, every_12_hours(10, T0 - HOUR), T0)
    smtp_server.stop()
    clock.now = T0 + 4 * DAY
    [failed] = health.check()  # the first check ever finds it silent; the notice fails
    assert failed.state == "silent" and not failed.delivered
    smtp_server.start()
    collect(db, config, [article(50, clock.now)], clock.now)
    clock.now += 10 * MINUTE
    assert health.check() == []  # ok again before anyone heard it was silent: nothing to say
    assert smtp_server.messages == []


def test_a_source_disabled_while_its_notice_is_owed_gets_none(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    ops = [smtp_server.mail_url(to="ops@example.org")]
    config = make_config(tmp_path, operator=ops)
    clock = Clock(T0)
    db = open_db(tmp_path)
    tell = build(config, db, now=clock).dispatcher.tell_operator
    health = HealthReporter(config, db, tell, now=clock)
    collect(db, config, every_12_hours(10, T0 - HOUR), T0)
    smtp_server.stop()
    clock.now = T0 + 4 * DAY
    [failed] = health.check()
    assert failed.state == "silent" and not failed.delivered
    smtp_server.start()
    config = make_config(tmp_path, disabled=("dd",), operator=ops)  # the operator switched it off
    tell = build(config, db, now=clock).dispatcher.tell_operator
    health = HealthReporter(config, db, tell, now=clock)
    clock.now += DAY
    assert health.check() == []
    assert smtp_server.messages == []


FEED = "https://ddnews.gov.in/en/feed/"


def poll_feed(
    db: Database,
    at: datetime,
    *,
    newest: datetime | None = None,
    entries: int = 10,
    not_modified: bool = False,
    kind: str | None = None,
) -> None:
    """What a poll of DD's one feed leaves behind: a parsed body (entries, newest item), a 304,
    or a failure of `kind`."""
    with db.write() as conn:
        state.sync_sources(conn, [("dd", "DD News", [FEED])])
        if kind is None:
            state.record_feed_success(
                conn, FEED, now=at, http_status=304 if not_modified else 200,
                not_modified=not_modified, etag=None, last_modified=None, entries=entries,
                newest_item_at=newest,
            )  # fmt: skip
        else:
            state.record_feed_failure(
                conn, FEED, now=at, next_fetch_at=at, kind=kind, error=f"{kind} error",
                http_status=403 if kind == "challenge" else None,
            )  # fmt: skip
        state.record_source_poll(
            conn, "dd", now=at, error=f"{FEED}: {kind} error" if kind else None
        )


def test_a_feed_answering_with_only_old_items_is_stale_not_ok(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    db = open_db(tmp_path)
    collect(db, config, every_12_hours(10, T0 - HOUR), T0)  # rhythm: stale after 3 days

    def dd(now: datetime) -> tuple[str, str | None, str]:
        with db.read() as conn:
            h = assess(conn, config, now, only=["dd"])["dd"]
        return h.state, h.alarm, h.detail

    poll_feed(db, T0, newest=T0 - 2 * HOUR)
    assert dd(T0)[:2] == ("ok", "ok")
    # Frozen since long ago: 200, ten items, the newest a year old. Stale at once, and told.
    poll_feed(db, T0 + HOUR, newest=T0 - 400 * DAY)
    assert dd(T0 + HOUR) == (
        "stale",
        "stale",
        f"feed {FEED} newest item from 2025-10-19 06:00 UTC (1.1 y old; stale after 3 d)",
    )
    poll_feed(db, T0 + 2 * HOUR, not_modified=True)  # a 304 keeps what the body held
    assert dd(T0 + 2 * HOUR)[0] == "stale"
    poll_feed(db, T0 + 3 * HOUR, entries=0)  # a feed without items tells nothing is published
    assert dd(T0 + 3 * HOUR)[2] == f"feed {FEED} lists no items"
    poll_feed(db, T0 + 4 * HOUR, newest=T0 + 3 * HOUR)
    assert dd(T0 + 4 * HOUR)[:2] == ("ok", "ok")
    # feeds.yaml's stale_after overrides the rhythm: 36 h.
    data = yaml.safe_load((tmp_path / "feeds.yaml").read_text(encoding="utf-8"))
    data["sources"][0]["stale_after"] = "36h"
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    config = load_config(tmp_path / "feeds.yaml").config
    later = T0 + 3 * HOUR + 37 * HOUR
    assert dd(later)[0] == "stale" and "stale after 36 h" in dd(later)[2]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("challenge", "blocked"), ("connect", "unreachable"), ("dns", "unreachable"),
     ("http", "failing"), ("parse", "failing")],
)  # fmt: skip
def test_failing_feeds_are_named_for_what_happened(
    tmp_path: Path, kind: str, expected: str
) -> None:
    config = make_config(tmp_path)
    db = open_db(tmp_path)
    collect(db, config, every_12_hours(10, T0 - HOUR), T0)
    for n, at in enumerate((T0 + HOUR, T0 + 70 * MINUTE, T0 + 80 * MINUTE), start=1):
        poll_feed(db, at, kind=kind)
        with db.read() as conn:
            h = assess(conn, config, at)["dd"]
        assert (h.state, h.alarm) == (expected, expected if n == 3 else "ok")


def test_crawl_problems_are_named_for_what_happened(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    db = open_db(tmp_path)
    for i, (kind, expected) in enumerate(
        [("blocked", "blocked"), ("unreachable", "unreachable"), ("failing", "failing"),
         ("layout", "extraction broken"), (None, "extraction broken")]  # None: an older row
    ):  # fmt: skip
        at = T0 + i * DAY
        with db.write() as conn:
            for minutes in (0, 30):
                crawls.record_crawl(
                    conn, source_id="orf", started_at=at + minutes * MINUTE, listing_pages=0,
                    responses=1, problem=f"{kind} problem", problem_kind=kind,
                )  # fmt: skip
        with db.read() as conn:
            h = assess(conn, config, at + HOUR, only=["orf"])["orf"]
        assert (h.state, h.alarm) == (expected, expected)


def test_a_blocked_source_notice_says_it_is_not_bypassed(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = make_config(tmp_path, operator=[smtp_server.mail_url(to="ops@example.org")])
    clock = Clock(T0)
    db = open_db(tmp_path)
    health = HealthReporter(
        config, db, build(config, db, now=clock).dispatcher.tell_operator, now=clock
    )
    collect(db, config, every_12_hours(10, T0 - HOUR), T0)
    health.check()
    for minutes in (60, 70, 80):
        clock.now = T0 + minutes * MINUTE
        poll_feed(db, clock.now, kind="challenge")
        health.check()
    assert [str(m["Subject"]) for m in smtp_server.messages] == [
        "[monitor] Source DD News (dd) is blocked"
    ]
    body = smtp_server.messages[0].get_body(("plain",))
    assert body is not None
    assert "does not try to get past it" in body.get_content()
