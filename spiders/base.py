"""OutletSpider: walks an outlet's listing pages, follows new article links, yields Articles.

Reads: listing and article pages of one source (SourceConfig). Writes: Article items (each goes
down the flow as it is yielded), plus `self.health` (a CrawlHealth) that the runner reads after
the crawl to spot layout changes. Three ways to run: the listing pages (live crawls), given
article URLs (enrichment of short feed entries), or a history walk (spiders/history.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import scrapy
from scrapy.http import Response, TextResponse
from selectolax.lexbor import LexborHTMLParser

from monitor.article import Article
from monitor.collect import shape
from monitor.collect.canonical import canonical_url
from monitor.collect.crawl.failures import PageFailure, challenged, page_failure
from monitor.collect.extract import Extracted, extract_article
from monitor.config import SourceConfig
from spiders.history import History, Walk, meta_of


@dataclass
class CrawlHealth:
    """What one crawl saw; the runner compares it with what a working layout produces."""

    listing_pages: int = 0  # listing responses parsed (pagination included)
    listing_failures: int = 0  # listing requests that failed (network error, 4xx/5xx)
    article_links: int = 0  # distinct article links recognised on listing pages, skipped ones too
    articles: int = 0  # Articles yielded
    incomplete: list[str] = field(default_factory=list)  # article pages without title or date
    article_pages: int = 0  # article responses parsed
    article_failures: int = 0  # article requests that failed
    skipped: int = 0  # article links not requested because skip_urls / exclude_urls said so
    empty_listings: list[str] = field(default_factory=list)  # listing pages without article links
    refused: list[str] = field(default_factory=list)  # pages too deep, too big or too slow to read
    # Why listing / article requests failed (HTTP status, challenge, robots.txt, network).
    listing_errors: list[PageFailure] = field(default_factory=list)
    article_errors: list[PageFailure] = field(default_factory=list)


_PAGED_PATH = re.compile(r"/page/\d+/?$")


def path_page(url: str, page_no: int) -> str:
    """The WordPress-style page URL <archive>/page/N/ of an archive URL (query dropped)."""
    parts = urlsplit(url)
    path = _PAGED_PATH.sub("", parts.path).rstrip("/")
    return parts._replace(path=f"{path}/page/{page_no}/", query="", fragment="").geturl()


def query_page(url: str, param: str, page_no: int) -> str:
    """The URL with its `param` query parameter set to page_no (the other parameters kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != param]
    query.append((param, str(page_no)))
    return parts._replace(query=urlencode(query), fragment="").geturl()


class OutletSpider(scrapy.Spider):
    """Base for the per-outlet spiders; subclasses set the class attributes and URL hooks."""

    name = ""
    # CSS for article links on listing pages; a match that is not an <a> contributes every
    # a[href] inside it. Links still have to pass is_article_url().
    listing_link_selectors: ClassVar[tuple[str, ...]] = ()
    body_selectors: ClassVar[tuple[str, ...]] = ()
    drop_selectors: ClassVar[tuple[str, ...]] = ()
    title_selectors: ClassVar[tuple[str, ...]] = ()
    author_selectors: ClassVar[tuple[str, ...]] = ()
    date_selectors: ClassVar[tuple[str, ...]] = ()
    section_selectors: ClassVar[tuple[str, ...]] = ()
    default_tz: ClassVar[str] = "UTC"
    # None keeps the link's own form; True / False add / strip the slash so one article has
    # one URL even when the site links it both ways.
    trailing_slash: ClassVar[bool | None] = None
    # Path prefixes never requested, whatever links to them (JT's paywall endpoints).
    forbidden_paths: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        source: SourceConfig,
        now: datetime,
        skip_urls: Callable[[list[str]], set[str]] | None = None,
        max_pages: int = 1,
        article_urls: list[str] | None = None,
        walk: Walk | None = None,
        extract_budget: float = 20.0,
        **kwargs: Any,
    ) -> None:
        if source.id != self.name:
            raise ValueError(f"{type(self).__name__} crawls {self.name!r}, not {source.id!r}")
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if source.crawl is None and walk is None and article_urls is None:
            raise ValueError(f"source {source.id!r} has no crawl.listing_paths")
        super().__init__(**kwargs)
        self.source = source
        self.now = now
        self.skip_urls = skip_urls
        self.max_pages = max(1, max_pages)
        self.extract_budget = extract_budget  # seconds one article page may take to read
        # Enrichment: fetch exactly these article pages (feed entries), no listing pages.
        self.article_urls = article_urls
        # History walk (backfill): spiders/history.py drives the requests page by page.
        self.history = History(self, walk) if walk is not None else None
        self.health = CrawlHealth()
        host = (urlsplit(source.base_url).hostname or "").lower()
        bare = host.removeprefix("www.")
        is_name = any(c.isalpha() for c in bare) and ":" not in bare
        self.allowed_domains = [bare, f"www.{bare}"] if is_name else [bare]
        self._exclude = [re.compile(p) for p in source.exclude_urls]
        self._seen_articles: set[str] = set()
        self._seen_listings: set[str] = set()

    # --- hooks -------------------------------------------------------------------------------

    @classmethod
    def is_article_url(cls, url: str) -> bool:
        """Whether an absolute, canonicalised URL has the shape of one of the outlet's articles."""
        raise NotImplementedError

    def next_page_url(self, response: Response, page_no: int) -> str | None:
        """The listing page after page_no (1-based), from the page's own pagination links."""
        return self.pagination_link(response)

    @classmethod
    def fallback_published(cls, url: str, extracted: Extracted) -> datetime | None:
        """A publication date from outside the page markup (e.g. the URL) when it had none."""
        return None

    @classmethod
    def date_hint(cls, url: str) -> datetime | None:
        """The publication day (its start, UTC) an article URL reveals before fetching, if any."""
        return None

    # --- shared helpers ----------------------------------------------------------------------

    @classmethod
    def extract(cls, html: str, url: str) -> Extracted:
        """extract_article() with this outlet's selectors, time zone and date fallback."""
        extracted = extract_article(
            html,
            url,
            default_tz=cls.default_tz,
            body_selectors=cls.body_selectors,
            drop_selectors=cls.drop_selectors,
            title_selectors=cls.title_selectors,
            author_selectors=cls.author_selectors,
            date_selectors=cls.date_selectors,
            section_selectors=cls.section_selectors,
        )
        if extracted.published_at is None:
            fallback = cls.fallback_published(url, extracted)
            if fallback is not None:
                extracted = replace(extracted, published_at=fallback)
        return extracted

    @classmethod
    def article_link(cls, url: str) -> str:
        """The one form of an article URL: canonical, no query or fragment, slash per site."""
        parts = urlsplit(canonical_url(url))
        path = parts.path
        if cls.trailing_slash is True and not path.endswith("/"):
            path += "/"
        elif cls.trailing_slash is False and path != "/":
            path = path.rstrip("/") or "/"
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    def excluded(self, url: str) -> bool:
        """Whether feeds.yaml's exclude_urls rule the URL out."""
        return any(p.search(url) for p in self._exclude)

    def on_site(self, url: str) -> bool:
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            return False
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)

    def allowed(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
        except ValueError:  # e.g. an unbalanced "[" in a scraped href
            return False
        if parts.scheme not in ("http", "https") or not self.on_site(url):
            return False
        return not any(parts.path.startswith(p) for p in self.forbidden_paths)

    def pagination_link(self, response: Response) -> str | None:
        tree = LexborHTMLParser(response.text)
        for selector in (
            "link[rel=next]",
            "a[rel=next]",
            "a.next.page-numbers",
            ".pagination a.next",
        ):
            node = tree.css_first(selector)
            href = node.attributes.get("href") if node is not None else None
            if href and href.strip():
                try:
                    return str(response.urljoin(href.strip()))
                except ValueError:
                    continue
        return None

    # --- crawl -------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        if self.history is not None:
            for request in self.history.start():
                yield request
            return
        if self.article_urls is not None:
            for url in self.article_urls:
                if self.allowed(url) and self.is_article_url(url):
                    yield scrapy.Request(
                        url, callback=self.parse_article, errback=self.article_failed
                    )
            return
        assert self.source.crawl is not None  # checked in __init__
        for path in self.source.crawl.listing_paths:
            url = urljoin(self.source.base_url, path)
            self._seen_listings.add(url)
            yield scrapy.Request(
                url,
                callback=self.parse_listing,
                errback=self.listing_failed,
                meta={"page_no": 1},
            )

    def listing_failed(self, failure: Any) -> list[Any]:
        self.health.listing_failures += 1
        why = page_failure(failure)
        self.health.listing_errors.append(why)
        self.logger.warning("listing page failed: %s", why.message)
        if self.history is not None and self.history.owns(failure.request):
            return list(self.history.listing_failed(failure))
        return []

    def article_failed(self, failure: Any) -> list[Any]:
        self.health.article_failures += 1
        why = page_failure(failure)
        self.health.article_errors.append(why)
        self.logger.info("article page failed: %s", why.message)
        if self.history is not None:
            return list(self.history.article_failed(failure))
        return []

    def listing_links(self, response: Response) -> list[str]:
        """Absolute hrefs the listing selectors point at, in page order, unfiltered."""
        tree = LexborHTMLParser(response.text)
        hrefs: list[str] = []
        for selector in self.listing_link_selectors:
            for node in tree.css(selector):
                anchors = [node] if node.tag == "a" else node.css("a[href]")
                for anchor in anchors:
                    href = (anchor.attributes.get("href") or "").strip()
                    if href and not href.startswith(("#", "javascript:", "mailto:", "tel:")):
                        try:
                            hrefs.append(str(response.urljoin(href)))
                        except ValueError:
                            continue
        return hrefs

    def article_links(self, response: Response) -> list[str]:
        """The page's article links in their one form, on-site and article-shaped, each once."""
        links: dict[str, None] = {}
        for href in self.listing_links(response):
            try:
                url = self.article_link(href)
            except ValueError:
                continue
            if self.allowed(url) and self.is_article_url(url):
                links[url] = None
        return list(links)

    def parse_listing(self, response: Response) -> Iterator[Any]:
        blocked = challenged(response)
        if blocked is not None:  # a challenge page is neither a listing nor a changed layout
            self.health.listing_failures += 1
            self.health.listing_errors.append(blocked)
            self.logger.warning("listing page failed: %s", blocked.message)
            if self.history is not None and "walk_route" in meta_of(response):
                yield from self.history.listing_blocked(response, blocked.message)
            return
        if not isinstance(response, TextResponse):
            self.health.listing_failures += 1
        else:
            self.health.listing_pages += 1
        if self.history is not None and "walk_route" in meta_of(response):
            yield from self.history.listing(response)
            return
        if not isinstance(response, TextResponse):
            return
        page_no = int(meta_of(response).get("page_no", 1))
        found = self.article_links(response)
        fresh = [u for u in found if u not in self._seen_articles]
        self._seen_articles.update(fresh)
        self.health.article_links += len(fresh)
        wanted = [u for u in fresh if not self.excluded(u)]
        # One question per page, not per link: the runner answers it with one batched query.
        known = self.skip_urls(wanted) if self.skip_urls and wanted else set()
        self.health.skipped += len(fresh) - len(wanted) + len(known)
        for url in wanted:
            if url not in known:
                yield scrapy.Request(url, callback=self.parse_article, errback=self.article_failed)
        if not found:
            self.health.empty_listings.append(response.url)
            return  # past the last page, or a layout the selectors no longer match
        if page_no >= self.max_pages:
            return
        next_url = self.next_page_url(response, page_no)
        if next_url and self.allowed(next_url) and next_url not in self._seen_listings:
            self._seen_listings.add(next_url)
            yield scrapy.Request(
                next_url,
                callback=self.parse_listing,
                errback=self.listing_failed,
                meta={"page_no": page_no + 1},
            )

    async def parse_article(self, response: Response) -> AsyncIterator[Any]:
        article = await self._read(response)
        if self.history is not None and "walk_page" in meta_of(response):
            for step in self.history.article(response, article):
                yield step
        elif article is not None:
            yield article

    async def _read(self, response: Response) -> Article | None:
        """The article of a page, read in a worker thread within the time budget: a hostile
        page can cost a thread some CPU, never the event loop (feed polls, the watchdog)."""
        if not isinstance(response, TextResponse):
            return None
        why = shape.problem(response.body)
        if why is None:
            try:
                reading = asyncio.to_thread(self._article, response)
                return await asyncio.wait_for(reading, self.extract_budget)
            except TimeoutError:
                why = f"took more than {self.extract_budget:g} s to read"
        self.health.refused.append(response.url)
        self.logger.warning("page refused: %s (%s)", response.url, why)
        return None

    def _article(self, response: Response) -> Article | None:
        blocked = challenged(response)
        if blocked is not None:
            self.health.article_failures += 1
            self.health.article_errors.append(blocked)
            self.logger.info("article page failed: %s", blocked.message)
            return None
        if not isinstance(response, TextResponse):
            return None
        self.health.article_pages += 1
        extracted = self.extract(response.text, response.url)
        # A canonical link pointing off-site is either a syndication source or a forgery.
        trusted = extracted.url if extracted.url and self.on_site(extracted.url) else None
        url = canonical_url(trusted or response.url)
        if not any(self.is_article_url(self.article_link(u)) for u in {url, response.url}):
            # Redirected to a home, login or consent page: whatever it shows is not the story.
            self.logger.info("%s is not an article URL; not stored", response.url)
            return None
        published = extracted.published_at
        if not extracted.title or published is None:
            self.health.incomplete.append(response.url)
        if not extracted.title:
            self.logger.info("no title on %s; not stored", response.url)
            return None
        categories = [c for c in [extracted.section or "", *extracted.keywords] if c]
        self.health.articles += 1
        return Article(
            source_id=self.name,
            url=url,
            original_url=response.url,
            guid=extracted.site_id or None,
            title=extracted.title,
            summary=extracted.description,
            text=extracted.text,
            author=extracted.author,
            published_at=published or self.now,
            first_seen_at=self.now,
            categories=list(dict.fromkeys(categories)),
            language=self.source.language,
            published_from_source=published is not None,
        )

    # --- health ------------------------------------------------------------------------------

    def layout_problem(self) -> str | None:
        """A one-line reason when the pages fetched look like a layout the spider cannot read."""
        h = self.health
        if h.listing_pages and not h.article_links:
            return (
                f"{self.name}: {h.listing_pages} listing page(s) fetched but no article links "
                "found; listing layout or URL pattern changed?"
            )
        if h.article_pages and not h.articles:
            return (
                f"{self.name}: {h.article_pages} article page(s) fetched but no article "
                "extracted (no title); article layout changed?"
            )
        if h.article_pages and len(h.incomplete) * 2 > h.article_pages:
            return (
                f"{self.name}: {len(h.incomplete)} of {h.article_pages} article pages lack a "
                "title or a publication date; article layout changed?"
            )
        return None

    def closed(self, reason: str) -> None:
        h = self.health
        self.logger.info(
            "crawl %s: %d listing page(s), %d failed; %d article link(s), %d skipped; "
            "%d article(s), %d incomplete, %d failed",
            reason, h.listing_pages, h.listing_failures, h.article_links, h.skipped,
            h.articles, len(h.incomplete), h.article_failures,
        )  # fmt: skip
        problem = self.layout_problem()
        if problem:
            self.logger.warning(problem)
