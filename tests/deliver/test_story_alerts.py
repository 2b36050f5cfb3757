"""One story, once: three outlets report one summit in their own words on a loopback mirror; the
subscriber gets one immediate alert for it, and the digest lists the three outlets under it.

Real parts: feeds served on loopback, the whole flow in-process with an injected clock, aiosmtpd.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

from monitor.app import open_app
from monitor.config import load_config
from monitor.flow import refresh_source
from storage import stories
from storage.db import Database
from tests.conftest import FeedServer, SmtpServer, write_config
from tests.deliver.test_alert_process import run
from tests.fixture_dates import GOLDEN, FixtureClock
from tests.fixture_dates import SettableClock as Clock

T0 = GOLDEN.now  # 06:00 UTC, 11:30 IST: the first collection of each outlet

# SYNTHETIC: one event in each outlet's manner (shared/research/sources.md): The Japan Times in
# sentence case with Japanese name order first, DD News in Title Case with "PM Modi" and
# "today", ORF as an Expert Speak analysis. No sentence is shared between them.
SUMMIT = {
    "jt": (
        "Takaichi and Modi pledge deeper chip and rail ties at Tokyo summit",
        "Prime Minister Sanae Takaichi and her Indian counterpart Narendra Modi agreed on Friday "
        "to build a semiconductor supply chain partnership and reaffirmed a ¥10 trillion private "
        "investment target, as Tokyo looks to New Delhi to hedge against China. The two leaders, "
        "meeting at the Prime Minister's Office, also confirmed that E10 Shinkansen trains will "
        "run on the Mumbai-Ahmedabad line.",
    ),
    "dd": (
        "PM Modi, Japanese PM Takaichi Hold Talks In Tokyo; India, Japan Sign Pact On "
        "Semiconductors",
        "Prime Minister Narendra Modi held wide-ranging talks with Japanese Prime Minister Sanae "
        "Takaichi in Tokyo today. The two sides signed a memorandum of cooperation on "
        "semiconductors and welcomed Japan's target of 10 trillion yen in investment in India. PM "
        "Modi said the Mumbai-Ahmedabad high-speed rail project is a symbol of India-Japan "
        "friendship.",
    ),
    "orf": (
        "The Takaichi–Modi summit: Chips, capital and a corridor of trust",
        "When Narendra Modi sat down with Sanae Takaichi in Tokyo, semiconductors were at the "
        "heart of the Special Strategic and Global Partnership. The new chip supply-chain pact, "
        "the reaffirmed ¥10 trillion investment goal and the Shinkansen for the Mumbai–Ahmedabad "
        "corridor show how Delhi and Tokyo are turning a summit into industrial policy.",
    ),
}
MARKET_WRAP = (  # the same hours, the same leaders, another story
    "Sensex, Nikkei Gain As Chip Stocks Rally After Modi-Takaichi Summit",
    "Benchmark indices in Mumbai and Tokyo closed higher. The BSE Sensex rose 412 points to "
    "82,150 while the Nikkei 225 gained 1.2 per cent, led by semiconductor makers Tokyo Electron "
    "and Advantest, after the summit between Narendra Modi and Sanae Takaichi.",
)
NAMES = {"jt": "The Japan Times", "dd": "DD News", "orf": "ORF"}


def rss(server: FeedServer, source: str, items: list[tuple[int, str, str, datetime]]) -> str:
    body = "".join(
        f"<item><title>{escape(title)}</title><link>{server.base_url}/{source}/{n}/</link>"
        f"<guid isPermaLink='false'>{source}-{n}</guid><pubDate>{format_datetime(at)}</pubDate>"
        f"<description>{escape(text)}</description></item>"
        for n, title, text, at in items
    )
    channel = f"<channel><title>{source}</title>{body}</channel>"
    return f"<?xml version='1.0'?><rss version='2.0'>{channel}</rss>"


def poll(cfg: Path, db: Database, clock: Clock) -> None:
    config = load_config(cfg).config

    async def run() -> None:
        async with open_app(config, db, now=clock) as app:
            await asyncio.gather(*(refresh_source(app, s, force=True) for s in config.sources))
            await app.dispatcher.run_once()

    asyncio.run(run())


def setup(
    tmp_path: Path, server: FeedServer, smtp: SmtpServer, **sub: Any
) -> tuple[Path, Database]:
    sources: list[dict[str, Any]] = [
        {"id": s, "name": NAMES[s], "base_url": server.base_url, "feeds": [f"/{s}/feed/"]}
        for s in NAMES
    ]
    subscriber = {
        "name": "analyst",
        "urls": [smtp.mail_url(to="analyst@example.org")],
        "timezone": "Asia/Kolkata",
        "rules": [{"name": "chips", "query": "semicon* OR chip*"}],
        **sub,
    }
    cfg = write_config(tmp_path / "feeds.yaml", sources, subscribers=[subscriber])
    db = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    db.create_schema()
    return cfg, db


def report_the_summit(cfg: Path, db: Database, server: FeedServer) -> Clock:
    """A first collection with nothing yet (the baseline), then each outlet's report of the
    summit, DD News's with a market wrap beside it, all in one poll."""
    for source in NAMES:
        server.serve(f"/{source}/feed/", rss(server, source, []))
    clock = Clock(T0)
    poll(cfg, db, clock)
    reported = {"jt": T0 + timedelta(hours=1), "dd": T0 + timedelta(hours=2),
                "orf": T0 + timedelta(hours=4)}  # fmt: skip
    for source, (title, text) in SUMMIT.items():
        items = [(1, title, text, reported[source])]
        if source == "dd":
            items.append((2, *MARKET_WRAP, T0 + timedelta(hours=3)))
        server.serve(f"/{source}/feed/", rss(server, source, items))
    clock.now = T0 + timedelta(hours=5)
    poll(cfg, db, clock)
    return clock


def test_three_outlets_one_story_one_alert_and_one_digest_entry(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    cfg, db = setup(tmp_path, feed_server, smtp_server)
    clock = report_the_summit(cfg, db, feed_server)

    assert smtp_server.wait_for(2)
    subjects = sorted(str(m["Subject"]) for m in smtp_server.messages)
    assert len(subjects) == 2, subjects  # the summit once, the market wrap (its own story) once
    assert sum("Sensex" in s for s in subjects) == 1
    with db.read() as conn:
        listed = stories.list_stories(conn)
    summit = next(s for s in listed if len(s.outlets) == 3)
    assert summit.size == 3 and sorted(summit.outlets) == sorted(NAMES.values())
    assert {a.title for a in summit.articles} == {t for t, _ in SUMMIT.values()}
    joined = [a.evidence for a in summit.articles if a.joined]
    assert len(joined) == 2 and all(
        e.startswith(f"joined story {summit.id}: same names") for e in joined
    )
    assert len(listed) == 2  # the market wrap is a story of its own

    # The next daily digest (08:00 IST = 02:30 UTC) carries the later reports, as one entry.
    clock.now = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
    poll(cfg, db, clock)
    assert smtp_server.wait_for(3)
    assert len(smtp_server.messages) == 3
    digest = smtp_server.messages[2]
    assert str(digest["Subject"]).startswith("Digest: 1 ")
    body = digest.get_body(("html",)).get_content()
    assert all(escape(name) in body for name in NAMES.values())
    assert sum(escape(title) in body for title, _ in SUMMIT.values()) == 1  # one headline


def test_also_reported_by_follows_the_alert_in_one_short_message(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    cfg, db = setup(tmp_path, feed_server, smtp_server, also_reported_by=True)
    clock = report_the_summit(cfg, db, feed_server)
    assert smtp_server.wait_for(3)
    subjects = [str(m["Subject"]) for m in smtp_server.messages]
    assert len(subjects) == 3, subjects  # the summit, the market wrap, one follow-up
    [followup] = [s for s in subjects if s.startswith("Also reported by ")]
    outlets = followup.removeprefix("Also reported by ").split(":")[0].split(", ")
    assert len(outlets) == 2 and set(outlets) < set(NAMES.values())
    alerted = next(s for s in subjects if "Sensex" not in s and s != followup)
    assert all(name not in alerted for name in outlets)  # the follow-up names the others
    clock.now = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)  # the digest time: nothing is left
    poll(cfg, db, clock)  # its dispatch has finished sending when poll() returns
    assert len(smtp_server.messages) == 3


def test_monitor_poll_sends_the_summit_once(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    """The same through `monitor poll` in a process of its own, on the machine's clock."""
    cfg, _ = setup(tmp_path, feed_server, smtp_server)
    path = tmp_path / "monitor.db"
    for source in NAMES:
        feed_server.serve(f"/{source}/feed/", rss(feed_server, source, []))
    assert run(cfg, path, "poll").returncode == 0  # the baseline
    clock = FixtureClock.real()
    for n, (source, (title, text)) in enumerate(SUMMIT.items()):
        at = clock.at(f"N-{3 - n}h")  # fresh: three, two and one hour old
        feed_server.serve(f"/{source}/feed/", rss(feed_server, source, [(1, title, text, at)]))
    polled = run(cfg, path, "poll")
    assert polled.returncode == 0, polled.stderr
    assert smtp_server.wait_for(1)
    assert len(smtp_server.messages) == 1  # poll has sent all it will when it exits
    stored = json.loads(run(cfg, path, "stories", "--json").stdout)
    assert [(s["size"], sorted(s["outlets"])) for s in stored] == [(3, sorted(NAMES.values()))]
    log = json.loads(run(cfg, path, "alerts", "log", "--json").stdout)
    assert sorted((r["mode"], r["status"]) for r in log) == [
        ("digest", "pending"), ("digest", "pending"), ("immediate", "sent")
    ]  # fmt: skip
