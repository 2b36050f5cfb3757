"""One source's history walk: which links to read, what to store, when a route ends, and the
checkpoint after every page.

Reads: the source's `backfill:` routes, their checkpoints and known article keys. Writes: the
articles of each finished listing page through the flow (ingest_mode "backfill", so no
immediate alert), then the route's checkpoint, so a killed run resumes at that page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin

from monitor.app import App
from monitor.article import Article
from monitor.collect.canonical import url_hash
from monitor.config import SourceConfig
from monitor.flow import ingest, preview
from spiders.base import OutletSpider
from spiders.history import ListingPage, WalkStart
from storage import articles as store
from storage import backfills
from storage.backfills import Checkpoint

log = logging.getLogger("monitor.backfill")

DAY = timedelta(days=1)


@dataclass(frozen=True)
class BackfillOptions:
    since: datetime
    until: datetime | None = None
    max_pages: int | None = None  # listing pages per route in this run; None walks to `since`
    dry_run: bool = False  # walk and judge, store nothing (no articles, no checkpoints)
    restart: bool = False  # forget checkpoints and walk every route from its first page


@dataclass
class SourceProgress:
    """What one source's backfill has done so far; the final report and the progress bar."""

    source: str
    routes: int = 0
    state: str = "waiting"  # walking | done | paused | covered | interrupted | failed
    pages: int = 0  # listing pages finished in this run
    links: int = 0  # article links on those pages
    articles: int = 0  # article pages read
    relevant: int = 0
    new: int = 0
    duplicate: int = 0
    irrelevant: int = 0
    out_of_range: int = 0  # outside --since/--until (by the page's date, or the URL's unread)
    skipped: int = 0  # not fetched: already stored (or judged) with full text
    failures: int = 0  # article or listing requests that failed
    newest_at: datetime | None = None  # newest publication date seen (the walk's start)
    oldest_at: datetime | None = None  # oldest date reached
    seconds: float = 0.0
    problem: str | None = None
    route_states: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("newest_at", "oldest_at"):
            value = data[key]
            data[key] = value.isoformat().replace("+00:00", "Z") if value else None
        return data


class SourceWalk:
    """The Walk a spider follows for one source: what to fetch, what to store, when to stop."""

    def __init__(
        self,
        app: App,
        source: SourceConfig,
        spider_cls: type[OutletSpider],
        options: BackfillOptions,
        on_progress: Callable[[SourceProgress], None] | None = None,
    ) -> None:
        if source.backfill is None:
            raise ValueError(f"source {source.id!r} has no backfill.paths")
        self.app = app
        self.source = source
        self.spider_cls = spider_cls
        self.db = app.db
        self.options = options
        self.clock = app.now
        self.on_progress = on_progress
        self.progress = SourceProgress(source.id, routes=len(source.backfill.paths))
        self._checkpoints: dict[str, Checkpoint] = {}
        self._pages_this_run: dict[str, int] = {}
        # URL → publication date for links already settled in this run (known, hinted, read).
        self._dates: dict[str, datetime | None] = {}

    # --- Walk protocol -------------------------------------------------------------------------

    def routes(self) -> list[WalkStart]:
        """The routes still to walk, each from its first page or from its checkpoint."""
        assert self.source.backfill is not None
        if self.options.restart and not self.options.dry_run:
            with self.db.write() as conn:
                backfills.forget(conn, self.source.id)
        with self.db.read() as conn:
            saved = {} if self.options.restart else backfills.checkpoints(conn, self.source.id)
        starts: list[WalkStart] = []
        since = self.options.since
        now = self.clock()
        for route in self.source.backfill.paths:
            cp = saved.get(route)
            first = urljoin(self.source.base_url, route)
            if cp is None:
                cp = Checkpoint(
                    source_id=self.source.id,
                    route=route,
                    state="walking",
                    since=since,
                    next_url=first,
                    next_page_no=1,
                    pages=0,
                    articles=0,
                    new=0,
                    oldest_at=None,
                    newest_at=None,
                    started_at=now,
                    updated_at=now,
                )
            covered = (
                cp.state == "end"
                or (cp.state == "done" and cp.since <= since)
                or (cp.oldest_at is not None and cp.oldest_at < since)
            )
            if covered or cp.next_url is None:
                self.progress.route_states[route] = "covered"
                continue
            cp.since = since
            cp.state = "walking"
            self._checkpoints[route] = cp
            self._pages_this_run[route] = 0
            self.progress.route_states[route] = "walking"
            starts.append(WalkStart(route, cp.next_url, cp.next_page_no))
        self.progress.state = "walking" if starts else "covered"
        self._report()
        return starts

    def to_fetch(self, route: str, links: list[str]) -> list[str]:
        """Links whose page must be read; the others are settled by storage or the URL's date."""
        keys = {url: url_hash(url) for url in links}
        with self.db.read() as conn:
            settled = store.settled(
                conn, self.source.id, list(set(keys.values())), self.app.judge.rules_hash
            )
        fetch: list[str] = []
        for url in links:
            if url in self._dates:
                continue  # read earlier in this run (another route listed it too)
            key = keys[url]
            if key in settled:
                self._dates[url] = settled[key]
                self.progress.skipped += 1
                continue
            hint = self.spider_cls.date_hint(url)
            if hint is not None and not self._in_range(hint, day=True):
                self._dates[url] = hint
                self.progress.out_of_range += 1
                continue
            fetch.append(url)
        return fetch

    def page_done(self, page: ListingPage) -> bool:
        """Store the page's articles, save the checkpoint; True to go on to the next page."""
        cp = self._checkpoints[page.route]
        progress = self.progress
        progress.pages += 1
        progress.links += len(page.links)
        progress.articles += len(page.articles)
        progress.failures += page.failures
        self._pages_this_run[page.route] += 1
        in_range: list[Article] = []
        for article in page.articles:
            if article.published_from_source and not self._in_range(article.published_at):
                progress.out_of_range += 1
            else:
                in_range.append(article)
            when = article.published_at if article.published_from_source else None
            self._dates[article.url] = when
            self._dates[article.original_url] = when
        self._store(in_range)
        dates = [d for d in (self._dates.get(u) for u in page.links) if d is not None]
        newest = max(dates, default=None)
        oldest = min(dates, default=None)
        for value in (newest, oldest):
            if value is not None:
                progress.newest_at = max(progress.newest_at or value, value)
                progress.oldest_at = min(progress.oldest_at or value, value)
                cp.newest_at = max(cp.newest_at or value, value)
                cp.oldest_at = min(cp.oldest_at or value, value)
        # Listings run newest first: a page whose newest article is older than `since` ends it.
        go_on = False
        if not page.links or page.next_url is None:
            cp.state = "end"
        elif newest is not None and newest < self.options.since:
            cp.state = "done"
        elif self.options.max_pages and self._pages_this_run[page.route] >= self.options.max_pages:
            cp.state = "walking"  # paused: the next run resumes here
        else:
            go_on = True
        cp.next_url = page.next_url
        cp.next_page_no = page.page_no + 1
        cp.pages += 1
        cp.articles += len(page.articles)
        cp.updated_at = self.clock()
        if not self.options.dry_run:
            with self.db.write() as conn:
                backfills.save_checkpoint(conn, cp)
        if not go_on:
            progress.route_states[page.route] = "paused" if cp.state == "walking" else cp.state
        log.debug(
            "backfill page",
            extra={
                "source": self.source.id,
                "route": page.route,
                "page": page.page_no,
                "links": len(page.links),
                "read": len(page.articles),
                "oldest": oldest.isoformat() if oldest else None,
            },
        )
        self._report()
        return go_on

    def route_failed(
        self, route: str, page_no: int, url: str, error: str, *, past_end: bool = False
    ) -> None:
        """A listing page could not be read: the route stops, and resumes there next time.

        past_end: a 404 for a guessed page number, how WordPress archives end (DD News).
        """
        cp = self._checkpoints.get(route)
        if past_end and cp is not None:
            cp.state = "end"
            cp.next_url = None
            cp.updated_at = self.clock()
            if not self.options.dry_run:
                with self.db.write() as conn:
                    backfills.save_checkpoint(conn, cp)
            self.progress.route_states[route] = "end"
            self._report()
            return
        self.progress.failures += 1
        self.progress.route_states[route] = "failed"
        problem = f"{route}: listing page {page_no} failed ({error})"
        self.progress.problem = (
            problem if not self.progress.problem else f"{self.progress.problem}; {problem}"
        )
        log.warning(
            "backfill route stopped",
            extra={"source": self.source.id, "route": route, "page": page_no, "url": url,
                   "error": error},
        )  # fmt: skip
        self._report()

    # --- helpers --------------------------------------------------------------------------------

    def _in_range(self, when: datetime, *, day: bool = False) -> bool:
        """Whether a publication time (or, with day=True, any time of that day) is wanted."""
        end = when + DAY if day else when
        if end < self.options.since:
            return False
        until = self.options.until
        return until is None or when <= until

    def _store(self, articles: list[Article]) -> None:
        if not articles:
            return
        progress = self.progress
        if self.options.dry_run:
            outcome = preview(self.app, self.source.id, articles)
        else:
            outcome = ingest(self.app, self.source.id, articles, self.clock(), "backfill")
        progress.new += len(outcome.new)
        progress.duplicate += outcome.duplicate
        progress.irrelevant += outcome.irrelevant
        progress.relevant += len(articles) - outcome.irrelevant

    def finish(self, interrupted: bool, seconds: float, layout_problem: str | None) -> None:
        progress = self.progress
        progress.seconds = round(seconds, 3)
        states = set(progress.route_states.values())
        if layout_problem and not progress.problem and progress.pages:
            progress.problem = layout_problem
        if interrupted and "walking" in states:
            progress.state = "interrupted"
            for route, state in progress.route_states.items():
                if state == "walking":
                    progress.route_states[route] = "interrupted"
        elif progress.problem or "failed" in states:
            progress.state = "failed"
        elif "walking" in states:
            # The crawl ended without finishing a route (e.g. the spider was closed).
            progress.state = "interrupted"
        elif "paused" in states:
            progress.state = "paused"
        elif states <= {"covered"}:
            progress.state = "covered"
        else:
            progress.state = "done"
        self._report()

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress)
