"""The incremental round (recognising the entries a feed's last body held) stores exactly what
a whole parse stores: two databases poll the same loopback feed through the real flow, one with
`fetch.incremental` on and one off, while the feed's entries are edited, reordered, re-guided,
repeated, dropped and added (SYNTHETIC feeds, dates relative to the injected clock)."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor.app import open_app
from monitor.config import load_config
from monitor.flow import refresh_source
from monitor.judge.sort import Judge
from monitor.operate.rejudge import rejudge
from monitor.reports import SourceReport
from storage.db import Database
from storage.models import (
    article_table,
    article_tag_table,
    delivery_table,
    feed_table,
    seen_table,
)
from tests.conftest import FeedServer, write_config
from tests.databases import database_url
from tests.fixture_dates import GOLDEN, SettableClock

RELEVANT = [
    "India and Japan sign a semiconductor supply pact",
    "Japan to fund Mumbai–Ahmedabad bullet train extension, India says",
    "Tokyo and New Delhi agree on rare earth processing",
    "India–Japan Malabar exercise opens off Okinawa",
]
OTHER = ["Monsoon rains lash Kerala", "Nikkei closes higher on chip stocks", "Cricket: India win"]


@dataclass
class Item:
    slug: str
    title: str
    guid: str
    description: str
    content: str = ""
    published: datetime = GOLDEN.now
    link: str | None = None  # default: from the slug

    def xml(self) -> str:
        link = "" if self.link == "" else f"<link>{self.link or _url(self.slug)}</link>"
        content = f"<content:encoded><![CDATA[{self.content}]]></content:encoded>"
        when = format_datetime(self.published)
        return (
            f"<item><title>{self.title}</title>{link}"
            f"<guid isPermaLink='false'>{self.guid}</guid><pubDate>{when}</pubDate>"
            f"<description><![CDATA[{self.description}]]></description>"
            f"{content if self.content else ''}</item>"
        )


def _url(slug: str) -> str:
    return f"https://news.example.org/2026/{slug}/?utm_source=rss"


def feed(items: list[Item], now: Any, built: int, broken: bool = False) -> str:
    amp = " & " if broken else " and "  # an unescaped & is malformed XML feedparser recovers
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n<rss version='2.0' "
        "xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel>"
        f"<title>Synthetic{amp}feed</title><link>https://news.example.org/</link>"
        f"<language>en</language><lastBuildDate>{format_datetime(now)}</lastBuildDate>"
        f"<!-- build {built} -->\n" + "\n".join(i.xml() for i in items) + "</channel></rss>"
    )


def mutate(rng: random.Random, items: list[Item], serial: int, now: datetime) -> list[Item]:
    """One round's changes, as real feeds make them."""
    items = [replace(i) for i in items]
    for _ in range(rng.randint(0, 3)):  # news at the top
        serial += 1
        pool = RELEVANT if rng.random() < 0.6 else OTHER
        items.insert(0, Item(f"s{serial}", f"{rng.choice(pool)} ({serial})", f"g{serial}",
                             f"<p>{rng.choice(pool)}. Officials met on {serial}.</p>",
                             published=now - timedelta(hours=rng.uniform(0, 2))))  # fmt: skip
    if len(items) > 6 and rng.random() < 0.5:
        del items[-rng.randint(1, 2) :]  # old ones fall out of the window
    for item in items:
        roll = rng.random()
        if roll < 0.08:
            item.description += " <p>Updated with comments from Tokyo.</p>"  # edited
        elif roll < 0.12:
            item.guid = item.guid + "-v2"  # re-guided
        elif roll < 0.15:
            item.content = "<p>" + " ".join([item.title] * 40) + " New Delhi, Japan.</p>"
        elif roll < 0.17:
            item.title = item.title.replace("India", "Bharat")  # a title rewritten
    if rng.random() < 0.3:
        rng.shuffle(items)  # reordered
    if items and rng.random() < 0.15:  # a second entry with a known entry's link
        other = rng.choice(items)
        items.append(Item(other.slug, f"{other.title} (again)", f"dup{serial}", "Repeated.",
                          link=_url(other.slug)))  # fmt: skip
    if len(items) > 2 and rng.random() < 0.1:  # two entries sharing one guid
        items[1].guid = items[0].guid
    if rng.random() < 0.1:
        items.append(Item(f"nolink{serial}", "An entry without a link", f"nl{serial}", "", link=""))
    return items


def state(db: Database) -> dict[str, Any]:
    """What a user can see: articles, their tags, remembered verdicts, planned alerts (typed
    columns, so SQLite and PostgreSQL rows compare equal)."""
    a, t, seen, d, f = article_table, article_tag_table, seen_table, delivery_table, feed_table
    with db.read() as conn:

        def rows(query: Any) -> list[tuple[Any, ...]]:
            return sorted((tuple(_plain(v) for v in r) for r in conn.execute(query)), key=repr)

        return {
            "articles": rows(
                select(
                    a.c.url_hash,
                    a.c.url,
                    a.c.guid,
                    a.c.fingerprint,
                    a.c.title,
                    a.c.summary,
                    a.c.text,
                    a.c.published_at,
                    a.c.first_seen_at,
                    a.c.relevance,
                    a.c.relevance_reason,
                )
            ),
            "tags": rows(
                select(a.c.url_hash, t.c.sector, t.c.terms).join(a, a.c.id == t.c.article_id)
            ),
            "seen": rows(select(seen.c.key, seen.c.verdict, seen.c.rules_hash, seen.c.full_text)),
            "deliveries": rows(
                select(a.c.url_hash, d.c.subscriber, d.c.state).join(a, a.c.id == d.c.article_id)
            ),
            "feed": rows(select(f.c.url, f.c.last_entries, f.c.newest_item_at)),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float):
        return round(value, 9)
    return value


def counts(report: SourceReport) -> tuple[int, ...]:
    return tuple(report.total(n) for n in ("entries", "new", "duplicate", "irrelevant"))


class Poller:
    def __init__(
        self, tmp_path: Path, server: FeedServer, incremental: bool, url: str | None = None
    ) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        src = {"id": "syn", "name": "Synthetic", "base_url": server.base_url, "feeds": ["/rss"]}
        subscribers = [{"name": "analyst", "urls": ["mailto://u:p@127.0.0.1:9/?to=a@example.org"],
                        "rules": [{"name": "japan", "query": "Japan OR Tokyo"}]}]  # fmt: skip
        fetch = {"allow_private_networks": True, "total_timeout": 5, "incremental": incremental}
        path = write_config(tmp_path / "feeds.yaml", [src], fetch=fetch, subscribers=subscribers)
        self.config = load_config(path).config
        self.db = Database(url or f"sqlite:///{tmp_path / 'monitor.db'}")
        self.db.create_schema()

    def poll(self, clock: SettableClock) -> SourceReport:
        async def go() -> SourceReport:
            async with open_app(self.config, self.db, now=clock) as app:
                return await refresh_source(app, self.config.sources[0], force=True)

        return asyncio.run(go())


BACKENDS = [*((n, "sqlite") for n in range(6)), *((n, "postgresql") for n in range(2))]


@pytest.mark.parametrize(("seed", "backend"), BACKENDS)
def test_incremental_rounds_store_what_whole_parses_store(
    tmp_path: Path, feed_server: FeedServer, seed: int, backend: str
) -> None:
    (tmp_path / "quick").mkdir(parents=True, exist_ok=True)
    with database_url(backend, tmp_path / "quick") as url:
        compare_rounds(tmp_path, feed_server, seed, url)


def compare_rounds(tmp_path: Path, feed_server: FeedServer, seed: int, url: str) -> None:
    """Whole parses on SQLite against incremental rounds on `url`: the same stored set."""
    rng = random.Random(seed)
    clock = SettableClock(GOLDEN.now)
    whole = Poller(tmp_path / "whole", feed_server, incremental=False)
    quick = Poller(tmp_path / "quick", feed_server, incremental=True, url=url)
    try:
        recognised = rounds(rng, clock, whole, quick, feed_server)
    finally:
        quick.db.dispose()  # PostgreSQL: no connection left on a database about to be dropped
    assert recognised > 0  # the shortcut was taken, not always declined


def rounds(
    rng: random.Random, clock: SettableClock, whole: Poller, quick: Poller, feed_server: FeedServer
) -> int:
    items = mutate(rng, [], 0, clock.now)
    recognised = 0
    for round_ in range(14):
        body = feed(items, clock.now, round_, broken=rng.random() < 0.1)
        feed_server.serve("/rss", body, etag=None)
        a, b = whole.poll(clock), quick.poll(clock)
        assert [f.outcome for f in b.feeds] == [f.outcome for f in a.feeds] == ["ok"]
        assert counts(b) == counts(a), f"round {round_}"
        assert state(quick.db) == state(whole.db), f"round {round_}"
        recognised += b.total("recognised")
        clock.now += timedelta(minutes=15)
        items = mutate(rng, items, 100 * (round_ + 1), clock.now)
    return recognised


def test_unchanged_entries_are_not_parsed_again(tmp_path: Path, feed_server: FeedServer) -> None:
    clock = SettableClock(GOLDEN.now)
    quick = Poller(tmp_path, feed_server, incremental=True)
    items = [Item(f"s{n}", f"{RELEVANT[n % 4]} ({n})", f"g{n}", "Tokyo.") for n in range(20)]
    feed_server.serve("/rss", feed(items, clock.now, 0), etag=None)
    first = quick.poll(clock)
    assert counts(first)[:2] == (20, 20) and first.total("recognised") == 0
    clock.now += timedelta(minutes=15)
    items.insert(0, Item("fresh", "India and Japan open a hydrogen corridor", "g-new", "Osaka."))
    feed_server.serve("/rss", feed(items, clock.now, 1), etag=None)
    second = quick.poll(clock)
    assert counts(second) == (21, 1, 20, 0)
    assert second.total("recognised") == 20  # only the new entry went through feedparser


def test_a_changed_rule_reads_every_entry_again(tmp_path: Path, feed_server: FeedServer) -> None:
    clock = SettableClock(GOLDEN.now)
    items = [Item("a", "Monsoon rains lash Kerala", "g1", "Rain in Kochi."),
             Item("b", "India and Japan sign a rail deal", "g2", "Tokyo.")]  # fmt: skip
    feed_server.serve("/rss", feed(items, clock.now, 0), etag=None)
    poller = Poller(tmp_path, feed_server, incremental=True)
    assert counts(poller.poll(clock)) == (2, 1, 0, 1)
    # The operator adds Kerala to the India–Japan bilateral terms (say, a joint project there).
    raw = load_config(tmp_path / "feeds.yaml").config
    relevance = raw.relevance.model_copy(update={"bilateral": [*raw.relevance.bilateral, "Kochi"]})
    poller.config = raw.model_copy(update={"relevance": relevance})
    clock.now += timedelta(minutes=15)
    report = poller.poll(clock)
    assert report.total("recognised") == 0  # the new rules judge every entry again


def test_after_rejudge_no_entry_is_recognised(tmp_path: Path, feed_server: FeedServer) -> None:
    clock = SettableClock(GOLDEN.now)
    items = [Item(f"s{n}", f"{RELEVANT[n % 4]} ({n})", f"g{n}", "Tokyo.") for n in range(3)]
    feed_server.serve("/rss", feed(items, clock.now, 0), etag=None)
    poller = Poller(tmp_path, feed_server, incremental=True)
    poller.poll(clock)
    rejudge(poller.db, Judge(poller.config), clock, since=None, dry_run=False)
    clock.now += timedelta(minutes=15)
    assert poller.poll(clock).total("recognised") == 0  # verdicts may have changed: read all
