"""History walks (`monitor backfill`): one listing page at a time, newest to oldest, each page's
articles handed to the Walk before the next (older) page is requested, so a checkpoint is never
ahead of what was stored.

Reads: listing and article responses of one spider. Writes: nothing itself; the Walk
(monitor/operate/backfill.py) stores each finished page and saves its checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import scrapy
from scrapy.http import Response, TextResponse

from monitor.article import Article

if TYPE_CHECKING:
    from spiders.base import OutletSpider


@dataclass
class WalkStart:
    """Where a history walk (backfill) begins or resumes one route."""

    route: str  # the route as configured (its key in checkpoints)
    url: str
    page_no: int = 1


@dataclass
class ListingPage:
    """One finished listing page of a history walk: its links and what their pages gave."""

    route: str
    page_no: int
    url: str
    next_url: str | None  # the older page after this one, if the page links or implies one
    links: list[str]  # article links on the page, in page order
    fetched: list[str]  # the links that were requested
    articles: list[Article] = field(default_factory=list)  # extracted from the fetched pages
    next_guessed: bool = False  # next_url built by the spider (no "next" link on the page)
    failures: int = 0  # fetched links whose request failed


class Walk(Protocol):
    """What a spider asks while walking history routes page by page (monitor.operate.backfill)."""

    def routes(self) -> list[WalkStart]: ...

    def to_fetch(self, route: str, links: list[str]) -> list[str]: ...

    def page_done(self, page: ListingPage) -> bool: ...

    def route_failed(
        self, route: str, page_no: int, url: str, error: str, *, past_end: bool = False
    ) -> None: ...


@dataclass
class _PageState:
    page: ListingPage
    pending: int  # article requests not answered yet


def meta_of(response: Response) -> dict[str, Any]:
    # Responses built by hand in tests may carry no request; Scrapy raises on .meta then.
    try:
        meta: dict[str, Any] = response.meta
    except AttributeError:
        return {}
    return meta


class History:
    """The walk state of one spider: which routes are left, which pages wait for articles."""

    def __init__(self, spider: OutletSpider, walk: Walk) -> None:
        self.spider = spider
        self.walk = walk
        self._routes: list[WalkStart] = []
        self._pages: dict[tuple[str, int], _PageState] = {}

    def start(self) -> Iterator[scrapy.Request]:
        self._routes = list(self.walk.routes())
        yield from self._next_route()

    def owns(self, response_or_request: Any) -> bool:
        meta = getattr(response_or_request, "meta", None) or {}
        return "walk_route" in meta or "walk_page" in meta

    def listing(self, response: Response) -> Iterator[Any]:
        """A listing page: ask the walk which links to read, then read them (or close it)."""
        meta = meta_of(response)
        route, page_no = str(meta["walk_route"]), int(meta["page_no"])
        spider = self.spider
        if not isinstance(response, TextResponse):
            self.walk.route_failed(route, page_no, response.url, "not an HTML page")
            yield from self._next_route()
            return
        links = [u for u in spider.article_links(response) if not spider.excluded(u)]
        spider.health.article_links += len(links)
        if not links:
            spider.health.empty_listings.append(response.url)
        next_url = spider.next_page_url(response, page_no) if links else None
        if next_url is not None and (not spider.allowed(next_url) or next_url == response.url):
            next_url = None
        guessed = next_url is not None and next_url != spider.pagination_link(response)
        fetch = self.walk.to_fetch(route, links)
        spider.health.skipped += len(links) - len(fetch)
        page = ListingPage(route, page_no, response.url, next_url, links, fetch, [], guessed)
        state = _PageState(page, pending=len(fetch))
        key = (route, page_no)
        self._pages[key] = state
        if not fetch:
            yield from self._page_step(state, done=0)
            return
        for url in fetch:
            yield scrapy.Request(
                url,
                callback=spider.parse_article,
                errback=spider.article_failed,
                dont_filter=True,
                meta={"walk_page": key},
            )

    def listing_blocked(self, response: Response, why: str) -> Iterator[Any]:
        """A listing page that is a bot-protection challenge: the route failed (it did not end)."""
        meta = meta_of(response)
        self.walk.route_failed(str(meta["walk_route"]), int(meta["page_no"]), response.url, why)
        yield from self._next_route()

    def article(self, response: Response, article: Article | None) -> Iterator[Any]:
        state = self._pages.get(meta_of(response).get("walk_page"))  # type: ignore[arg-type]
        if state is None:
            return
        if article is not None:
            state.page.articles.append(article)
        yield from self._page_step(state)

    def listing_failed(self, failure: Any) -> Iterator[Any]:
        meta = getattr(failure.request, "meta", None) or {}
        response = getattr(failure.value, "response", None)  # HttpError carries the response
        # A 404 for a page number the spider guessed (no "next" link) is how WordPress-style
        # archives end; for a linked page it is a real failure.
        past_end = bool(meta.get("guessed")) and getattr(response, "status", None) == 404
        self.walk.route_failed(
            meta["walk_route"],
            int(meta["page_no"]),
            failure.request.url,
            failure.getErrorMessage(),
            past_end=past_end,
        )
        yield from self._next_route()

    def article_failed(self, failure: Any) -> Iterator[Any]:
        meta = getattr(failure.request, "meta", None) or {}
        state = self._pages.get(meta.get("walk_page"))  # type: ignore[arg-type]
        if state is None:
            return
        state.page.failures += 1
        yield from self._page_step(state)

    def _listing_request(
        self, route: str, url: str, page_no: int, guessed: bool = False
    ) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.spider.parse_listing,
            errback=self.spider.listing_failed,
            dont_filter=True,  # a dropped duplicate would leave the walk waiting forever
            meta={"page_no": page_no, "walk_route": route, "guessed": guessed},
        )

    def _next_route(self) -> Iterator[scrapy.Request]:
        while self._routes:
            start = self._routes.pop(0)
            if self.spider.allowed(start.url):
                yield self._listing_request(start.route, start.url, start.page_no)
                return
            self.walk.route_failed(start.route, start.page_no, start.url, "URL not allowed")

    def _page_step(self, state: _PageState, done: int = 1) -> Iterator[Any]:
        """One of the page's article requests finished; the last one closes the page."""
        state.pending -= done
        if state.pending > 0:
            return
        page = state.page
        self._pages.pop((page.route, page.page_no), None)
        if self.walk.page_done(page) and page.next_url:
            yield self._listing_request(
                page.route, page.next_url, page.page_no + 1, page.next_guessed
            )
        else:
            yield from self._next_route()
