"""The one composition root: every entry point (daemon, CLI commands, backfill, benches, tests)
gets its objects here, built once from the config and never changed afterwards.

Reads: the config and the database. Writes: the configured sources into the database
(sync_sources) when an App is opened for collecting.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from monitor.clock import Clock, utcnow
from monitor.collect.fetch import Fetcher
from monitor.config import Config
from monitor.deliver.channel import Timeouts, send
from monitor.deliver.dispatch import Dispatcher, Sender
from monitor.deliver.plan import Alerts
from monitor.judge.sort import Judge
from monitor.judge.stories import Clusterer, Settings, common_names
from spiders import SPIDER_NAMES
from storage import sources as state
from storage.db import Database

if TYPE_CHECKING:
    from aiohttp.abc import AbstractResolver

    from monitor.collect.crawl.runner import CrawlRunner


@dataclass(frozen=True)
class App:
    """What the flow, the daemon and the commands work with."""

    config: Config
    db: Database
    now: Clock
    judge: Judge  # relevance and sector terms, exclusions, the rules hash
    alerts: Alerts  # subscribers' compiled rules → outbox rows
    stories: Clusterer  # which story a stored article joins, and the open stories
    dispatcher: Dispatcher  # outbox → channels
    fetcher: Fetcher  # feeds (the session opens on first use, on the running loop)
    crawler: CrawlRunner | None  # spiders, when a source has one and the caller wants crawls


def build(
    config: Config,
    db: Database,
    *,
    now: Clock = utcnow,
    sender: Sender | None = None,
    spiders: bool = False,
    download_delay: float | None = None,
    dns: AbstractResolver | None = None,
) -> App:
    """Every component, wired once. `spiders` also starts Scrapy (and Twisted's reactor)."""
    if sender is None:
        timeouts = Timeouts(config.alerts.connect_timeout, config.alerts.send_timeout)
        sender = functools.partial(send, timeouts=timeouts)
    judge = Judge(config)
    alerts = Alerts(config)
    crawler = None
    if spiders and any(s.enabled and s.id in SPIDER_NAMES for s in config.sources):
        from monitor.collect.crawl.runner import CrawlRunner  # Scrapy and Twisted: only now

        crawler = CrawlRunner(config, db, judge.rules_hash, now=now, download_delay=download_delay)
    return App(
        config=config,
        db=db,
        now=now,
        judge=judge,
        alerts=alerts,
        stories=clusterer(config),
        dispatcher=Dispatcher(config, db, alerts, now=now, sender=sender),
        fetcher=Fetcher(config.fetch, now=now, dns=dns),
        crawler=crawler,
    )


def clusterer(config: Config) -> Clusterer:
    """The story clustering of feeds.yaml's `stories`; its common names and the bilateral terms
    count as no evidence."""
    s, r = config.stories, config.relevance
    settings = Settings(
        window=timedelta(seconds=s.window), join_at=s.join_at, thread_at=s.thread_at
    )
    return Clusterer(
        settings, common_names(s.common_names, r.bilateral, [*r.india, *r.japan, *r.bilateral])
    )


@asynccontextmanager
async def open_app(
    config: Config,
    db: Database,
    *,
    now: Clock = utcnow,
    sender: Sender | None = None,
    spiders: bool = False,
    download_delay: float | None = None,
    dns: AbstractResolver | None = None,
) -> AsyncIterator[App]:
    """An App for collecting: sources synced into the database, the HTTP session closed after."""
    app = build(
        config, db, now=now, sender=sender, spiders=spiders, download_delay=download_delay, dns=dns
    )
    with db.write() as conn:
        state.sync_sources(conn, [(s.id, s.name, s.feed_urls) for s in config.sources], now())
    try:
        yield app
    finally:
        await app.fetcher.close()
