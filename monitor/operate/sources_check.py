"""`monitor sources check`: every enabled feed and every listing and backfill route asked once, as
real collection asks them, and a verdict per source: works, stale, blocked, broken, unreachable.

Reads: the config; the network through the same Fetcher (private-network guard, caps, timeouts)
and the same Scrapy settings (robots.txt, AutoThrottle, per-outlet delays) as collection; the
database, if given, only for each source's rhythm (the default stale_after). Writes: nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from monitor.clock import Clock, utcnow
from monitor.collect.crawl.failures import FailureKind, PageFailure
from monitor.collect.crawl.probe import PageResult, Prober
from monitor.collect.errors import FetchError
from monitor.collect.fetch import Fetcher
from monitor.collect.parse import FeedParseError, parse_feed
from monitor.config import Config, SourceConfig
from monitor.operate.health import collection_interval, feed_staleness, rhythm, span, stale_after
from spiders import SPIDER_NAMES
from storage import health as health_store
from storage.db import Database

Verdict = Literal["works", "stale", "blocked", "broken", "unreachable"]
Kind = Literal["feed", "listing", "backfill", "listing+backfill", "article"]
# The source's verdict is the first of these any of its URLs got: blocked is the site's decision,
# unreachable is this host's network or the site's servers, broken is feeds.yaml or a layout.
SEVERITY: tuple[Verdict, ...] = ("blocked", "unreachable", "broken", "stale")
ARTICLES_PER_ROUTE = 2  # article pages read from each route's first listing page
_NETWORK_FETCH = frozenset({"dns", "connect", "timeout", "tls"})


@dataclass
class URLCheck:
    """One URL asked: what came back and what it means."""

    kind: Kind
    url: str
    verdict: Verdict
    reason: str = ""  # why it is not "works"
    status: int | None = None
    content_type: str | None = None
    entries: int | None = None  # feed: items; listing: article links
    title: str | None = None  # feed: channel title; article: headline
    newest_at: datetime | None = None  # feed: newest dated item; article: publication date
    body_chars: int | None = None  # article
    author: str | None = None  # article
    method: str | None = None  # article: what gave the body (jsonld, site, trafilatura)
    note: str | None = None  # worth knowing, not a failure (a permanent redirect)
    route: str | None = None  # article: the listing it was found on

    def to_json(self, now: datetime) -> dict[str, Any]:
        age = (now - self.newest_at).total_seconds() / 3600 if self.newest_at else None
        return {
            "kind": self.kind,
            "url": self.url,
            "verdict": self.verdict,
            "reason": self.reason or None,
            "status": self.status,
            "content_type": self.content_type,
            "entries": self.entries,
            "title": self.title,
            "newest_at": _iso(self.newest_at),
            "newest_age_hours": round(age, 1) if age is not None else None,
            "body_chars": self.body_chars,
            "author": self.author,
            "method": self.method,
            "note": self.note,
            "route": self.route,
        }


@dataclass
class SourceCheck:
    source: str
    name: str
    verdict: Verdict
    reason: str  # "" when it works
    stale_after: timedelta
    checks: list[URLCheck] = field(default_factory=list)

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "source": self.source,
            "name": self.name,
            "verdict": self.verdict,
            "reason": self.reason or None,
            "stale_after_hours": round(self.stale_after.total_seconds() / 3600, 1),
            "checks": [c.to_json(now) for c in self.checks],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


# --- what a failure means ------------------------------------------------------------------


def fetch_verdict(exc: FetchError) -> Verdict:
    """A feed fetch's failure as a verdict."""
    if exc.kind == "challenge":
        return "blocked"
    if exc.kind in _NETWORK_FETCH:
        return "unreachable"
    if exc.kind == "http" and exc.status is not None:
        return http_verdict(exc.status)
    return "broken"  # the guard, a bad URL, too large, redirect loops, malformed answers


def http_verdict(status: int) -> Verdict:
    """429: the site limits us; 5xx: its servers fail (try later); other 4xx: the URL is wrong."""
    if status == 429:
        return "blocked"
    return "unreachable" if status >= 500 else "broken"


_FAILURE_VERDICTS: dict[FailureKind, Verdict] = {
    "challenge": "blocked",
    "robots": "blocked",
    "network": "unreachable",
    "refused": "broken",
    "offsite": "broken",
    "other": "broken",
}


def page_verdict(failure: PageFailure) -> Verdict:
    if failure.kind == "http" and failure.status is not None:
        return http_verdict(failure.status)
    return _FAILURE_VERDICTS.get(failure.kind, "broken")


def summarise(checks: list[URLCheck]) -> tuple[Verdict, str]:
    """The source's verdict (the most severe of its URLs') and the reasons behind it."""
    if not checks:
        return "broken", "nothing to check: no enabled feed and no spider route"
    failing = [c for c in checks if c.verdict != "works"]
    if not failing:
        return "works", ""
    verdict = next(v for v in SEVERITY if any(c.verdict == v for c in failing))
    shown = [f"{c.verdict}: {c.reason}" for c in failing[:3]]
    more = f"; and {len(failing) - 3} more" if len(failing) > 3 else ""
    return verdict, f"{len(failing)} of {len(checks)} URLs do not work: " + "; ".join(shown) + more


# --- feeds ---------------------------------------------------------------------------------


async def check_feed(
    fetcher: Fetcher, source: SourceConfig, url: str, limit: timedelta, now: datetime
) -> URLCheck:
    """A feed as a poll reads it (no validators: the check wants the body), and its newest item."""
    try:
        fetched = await fetcher.get(url)
    except FetchError as exc:
        return URLCheck("feed", url, fetch_verdict(exc), str(exc), status=exc.status)
    check = URLCheck("feed", url, "works", status=fetched.status, content_type=fetched.content_type)
    if _host(fetched.url) != _host(source.base_url):
        check.verdict, check.reason = "broken", f"{url} redirected to another site: {fetched.url}"
        return check
    if fetched.moved_to:
        check.note = f"moved permanently to {fetched.moved_to}: update feeds.yaml"
    try:
        parsed = parse_feed(
            fetched.body, source_id=source.id, feed_url=fetched.url, now=now,
            content_type=fetched.content_type, language=source.language,
        )  # fmt: skip
    except FeedParseError as exc:
        check.verdict, check.reason = "broken", f"{url}: {exc}"
        return check
    check.entries = len(parsed.articles) + parsed.skipped
    check.title = parsed.title or None
    check.newest_at = parsed.newest
    why = feed_staleness(check.entries, check.newest_at, limit, now)
    if why is not None:
        check.verdict, check.reason = "stale", f"{url} {why}"
    return check


# --- spider routes -------------------------------------------------------------------------


def routes_of(source: SourceConfig) -> list[tuple[str, Kind, float | None]]:
    """(URL, kind, download delay) of every listing and backfill route, each URL once: a path
    that is both is read with the listing delay. None: the crawl settings' delay."""
    out: dict[str, tuple[Kind, float | None]] = {}
    for path in source.crawl.listing_paths if source.crawl else []:
        out[urljoin(source.base_url, path)] = ("listing", None)
    if source.backfill is not None:
        delay = source.backfill.download_delay
        for path in source.backfill.paths:
            url = urljoin(source.base_url, path)
            out[url] = ("listing+backfill", None) if url in out else ("backfill", delay)
    return [(url, kind, delay) for url, (kind, delay) in out.items()]


def route_checks(results: list[PageResult], kinds: dict[str, Kind]) -> list[URLCheck]:
    """One line per listing, each followed by the article pages read from it."""
    listings = [r for r in results if r.kind == "listing"]
    articles = [r for r in results if r.kind == "article"]
    answered = {r.route for r in listings}
    for url in kinds:
        if url not in answered:  # a request Scrapy dropped without calling back must not vanish
            why = PageFailure(url, "other", f"{url}: no answer recorded (request dropped)")
            listings.append(PageResult(url, "listing", url, failure=why))
    out: list[URLCheck] = []
    for listing in sorted(listings, key=lambda r: list(kinds).index(r.route)):
        out.append(_listing_check(listing, kinds.get(listing.route, "listing")))
        out += [_article_check(a) for a in articles if a.route == listing.route]
    return out


def _listing_check(r: PageResult, kind: Kind) -> URLCheck:
    check = URLCheck(kind, r.url, "works", status=r.status, content_type=r.content_type)
    if r.failure is not None:
        check.verdict, check.reason = page_verdict(r.failure), r.failure.message
    elif r.links is None:
        check.verdict, check.reason = "broken", f"{r.url} is not an HTML page ({r.content_type})"
    elif r.links == 0:
        check.verdict = "broken"
        check.reason = f"{r.url}: no article links (listing layout or URL pattern changed?)"
    check.entries = r.links
    return check


def _article_check(r: PageResult) -> URLCheck:
    check = URLCheck(
        "article", r.url, "works", status=r.status, content_type=r.content_type, route=r.route
    )
    got = r.extracted
    if r.failure is not None:
        check.verdict, check.reason = page_verdict(r.failure), r.failure.message
        return check
    if got is None:
        check.verdict, check.reason = "broken", f"{r.url} is not an HTML page ({r.content_type})"
        return check
    check.title = got.title or None
    check.newest_at = got.published_at
    check.body_chars = len(got.text)
    check.author = got.author
    check.method = got.method
    missing = [
        name for name, value in (("title", got.title), ("date", got.published_at)) if not value
    ]
    if r.not_article:
        check.verdict, check.reason = "broken", f"{r.url} is not an article page (a redirect?)"
    elif missing:
        check.verdict = "broken"
        check.reason = f"{r.url}: no {' and no '.join(missing)} extracted (article layout changed?)"
    return check


# --- the whole check -----------------------------------------------------------------------


def _limits(
    config: Config, db: Database | None, sources: Iterable[SourceConfig]
) -> dict[str, timedelta]:
    """Each source's stale_after: feeds.yaml's, else its rhythm from the database (if any)."""
    out: dict[str, timedelta] = {}
    for source in sources:
        published: list[datetime] = []
        if db is not None:
            with db.read() as conn:
                published = health_store.output(conn, source.id).published
        out[source.id] = stale_after(source, rhythm(published, collection_interval(source)))
    return out


async def check_source(
    config: Config,
    source: SourceConfig,
    fetcher: Fetcher,
    limit: timedelta,
    *,
    now: Clock,
    per_route: int = ARTICLES_PER_ROUTE,
) -> SourceCheck:
    """Feeds first (all at once, as a poll does), then the spider's routes, one crawl per
    politeness delay (the listings' and the backfill's)."""
    started = now()
    checks = list(
        await asyncio.gather(
            *(check_feed(fetcher, source, u, limit, started) for u in source.feed_urls)
        )
    )
    routes = routes_of(source)
    if routes and source.id not in SPIDER_NAMES:
        checks += [
            URLCheck(kind, url, "broken", f"no spider for source {source.id!r} in spiders/")
            for url, kind, _ in routes
        ]
    elif routes:
        kinds = {url: kind for url, kind, _ in routes}
        results: list[PageResult] = []
        for delay in dict.fromkeys(d for _, _, d in routes):
            prober = Prober(config, now=now, download_delay=delay)
            group = [url for url, _, d in routes if d == delay]
            try:
                results += await prober.probe(source, group, per_route=per_route)
            finally:
                await prober.stop()
        checks += route_checks(results, kinds)
    verdict, reason = summarise(checks)
    return SourceCheck(source.id, source.name, verdict, reason, limit, checks)


async def check_sources(
    config: Config,
    sources: list[SourceConfig],
    db: Database | None = None,
    *,
    now: Clock = utcnow,
    per_route: int = ARTICLES_PER_ROUTE,
) -> list[SourceCheck]:
    """Every given source checked, side by side (each outlet at its own pace), in config order."""
    limits = _limits(config, db, sources)
    async with Fetcher(config.fetch, now=now) as fetcher:
        return list(
            await asyncio.gather(
                *(
                    check_source(config, s, fetcher, limits[s.id], now=now, per_route=per_route)
                    for s in sources
                )
            )
        )


def describe(check: URLCheck, now: datetime) -> str:
    """One line for a URL: what came back, and the reason when it does not work."""
    parts: list[str] = []
    if check.status is not None and not check.reason.startswith("HTTP "):  # it names the status
        parts.append(f"HTTP {check.status}")
    if check.content_type:
        parts.append(check.content_type.split(";")[0].strip())
    if check.kind == "feed" and check.entries is not None:
        parts.append(f"{check.entries} entries")
        if check.title:
            parts.append(f'"{check.title}"')
        parts.append(
            f"newest item {span(now - check.newest_at)} old" if check.newest_at else "no dated item"
        )
    elif check.kind != "article" and check.entries is not None:
        parts.append(f"{check.entries} article links")
    elif check.kind == "article" and check.method is not None:
        parts.append(f'title "{check.title}"' if check.title else "no title")
        parts.append(f"date {check.newest_at:%Y-%m-%d %H:%M} UTC" if check.newest_at else "no date")
        parts.append(f"body {check.body_chars} chars ({check.method})")
        parts.append(f"author {check.author}" if check.author else "no author")
    if check.note:
        parts.append(check.note)
    if check.reason:
        parts.append(check.reason)
    return ", ".join(parts)
