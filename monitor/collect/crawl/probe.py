"""A spider's routes read once, storing nothing (`monitor sources check`): each route's first
listing page and a few of its article pages, through the outlet's own spider (its link rules and
extraction) and the crawl's Scrapy settings (robots.txt, AutoThrottle, the private-network guard).

Reads: listing and article pages of one source. Writes: nothing; the spider's `results` hold one
PageResult per URL asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import scrapy
from scrapy.http import Response, TextResponse

from monitor.clock import Clock
from monitor.collect.crawl.failures import PageFailure, challenged, page_failure
from monitor.collect.crawl.settings import scrapy_settings
from monitor.collect.extract import Extracted
from monitor.config import Config, SourceConfig
from monitor.runtime import install_reactor

if TYPE_CHECKING:
    from spiders.base import OutletSpider


@dataclass
class PageResult:
    url: str
    kind: Literal["listing", "article"]
    route: str  # the listing URL this page belongs to (itself for a listing)
    status: int | None = None
    content_type: str | None = None
    failure: PageFailure | None = None  # the request failed, or answered a challenge
    links: int | None = None  # listing: article links recognised (exclude_urls applied)
    not_article: bool = False  # article: the answer was not an article URL (a redirect away)
    extracted: Extracted | None = None  # article: what extraction gave


def probe_class(base: type[OutletSpider]) -> type[OutletSpider]:
    """The outlet's spider, turned into a one-pass reader of the given routes."""

    class Probe(base):  # type: ignore[valid-type,misc]
        def __init__(self, *, routes: list[str], per_route: int, **kwargs: Any) -> None:
            # article_urls=[]: neither the configured listings nor a history walk start.
            super().__init__(article_urls=[], **kwargs)
            self.routes = routes
            self.per_route = per_route
            self.results: list[PageResult] = []
            self._sampled: set[str] = set()

        async def start(self) -> AsyncIterator[Any]:
            for url in self.routes:
                if not self.allowed(url):
                    why = PageFailure(url, "refused", f"{url} is not on {self.source.base_url}")
                    self.results.append(PageResult(url, "listing", url, failure=why))
                    continue
                yield self._request(url, "listing", url, self.probe_listing)

        def _request(self, url: str, kind: str, route: str, callback: Any) -> scrapy.Request:
            return scrapy.Request(
                url,
                callback=callback,
                errback=self.probe_failed,
                dont_filter=True,
                meta={"probe": (kind, route)},
            )

        def _result(self, response: Response) -> PageResult:
            kind, route = response.meta["probe"]
            raw = response.headers.get(b"Content-Type")
            result = PageResult(
                response.url,
                kind,
                route,
                status=response.status,
                content_type=raw.decode("latin-1") if raw else None,
            )
            self.results.append(result)
            return result

        def probe_listing(self, response: Response) -> Iterator[Any]:
            result = self._result(response)
            result.failure = challenged(response)
            if result.failure is not None or not isinstance(response, TextResponse):
                return
            links = [u for u in self.article_links(response) if not self.excluded(u)]
            result.links = len(links)
            fresh = [u for u in links if u not in self._sampled][: self.per_route]
            self._sampled.update(fresh)
            for url in fresh:
                yield self._request(url, "article", result.route, self.probe_article)

        def probe_article(self, response: Response) -> Iterator[Any]:
            result = self._result(response)
            result.failure = challenged(response)
            if result.failure is not None or not isinstance(response, TextResponse):
                return
            extracted = self.extract(response.text, response.url)
            result.extracted = extracted
            trusted = extracted.url if extracted.url and self.on_site(extracted.url) else None
            candidates = {response.url, trusted or response.url}
            result.not_article = not any(
                self.is_article_url(self.article_link(u)) for u in candidates
            )
            yield from ()

        def probe_failed(self, failure: Any) -> None:
            kind, route = failure.request.meta["probe"]
            why = page_failure(failure)
            response = getattr(failure.value, "response", None)
            raw = response.headers.get(b"Content-Type") if response is not None else None
            self.results.append(
                PageResult(
                    failure.request.url,
                    kind,
                    route,
                    status=why.status,
                    content_type=raw.decode("latin-1") if raw else None,
                    failure=why,
                )
            )

        def closed(self, reason: str) -> None:
            pass  # a probe judges nothing itself: the check reads its results

    Probe.__name__ = Probe.__qualname__ = f"{base.__name__}Probe"
    return Probe


class Prober:
    """Runs probes on the shared reactor with every crawl's settings and one politeness delay
    (None: crawl.download_delay; a backfill route's probe passes its backfill.download_delay)."""

    def __init__(self, config: Config, *, now: Clock, download_delay: float | None = None) -> None:
        install_reactor()
        from scrapy.crawler import AsyncCrawlerRunner

        self.now = now
        self.runner = AsyncCrawlerRunner(scrapy_settings(config, download_delay=download_delay))

    async def probe(
        self, source: SourceConfig, routes: list[str], *, per_route: int
    ) -> list[PageResult]:
        """Each route's first page and up to per_route of its article pages."""
        from spiders import SPIDERS

        crawler = self.runner.create_crawler(probe_class(SPIDERS[source.id]))
        await self.runner.crawl(
            crawler, source=source, now=self.now(), routes=routes, per_route=per_route
        )
        results: list[PageResult] = getattr(crawler.spider, "results", [])
        return list(results)

    async def stop(self) -> None:
        await self.runner.stop()
