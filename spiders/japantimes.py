"""The Japan Times spider: section/tag listing cards → article pages (JSON-LD first, DOM fallbacks).

Reads: japantimes.co.jp listing and article pages (sources.md §1.3a, §1.4). Writes: Article items
holding only what the static page openly shows; paywalled bodies stay a preview.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import ClassVar
from urllib.parse import urlsplit

from scrapy.http import Response

from monitor.collect.dates import date_from_path
from monitor.collect.extract import Extracted
from spiders.base import OutletSpider, path_page, query_page

# /news/2026/11/20/business/tech/<slug>/ and /commentary/2026/11/21/world/<slug>/
_ARTICLE_PATH = re.compile(r"^/(?:news|commentary)/\d{4}/\d{2}/\d{2}/(?:[a-z0-9-]+/)*[a-z0-9-]+/?$")


class JapanTimesSpider(OutletSpider):
    name = "japantimes"
    # Current-design card markup is unverified (sources.md §1.4), so the selectors are broad and
    # the strict dated URL pattern does the filtering.
    listing_link_selectors = (
        "div.article a[href]",
        "article a[href]",
        ".article-title a[href]",
        "h2 a[href]",
        "h3 a[href]",
    )
    title_selectors = ("h1.title-article",)
    body_selectors = ("div.jt-article-details div.article-body", "div.article-body")
    # Paywall prompts and Piano containers are page chrome, not article text.
    drop_selectors = (
        "div.article-image-gallery",
        "figure",
        "[class*=paywall]",
        "[id*=paywall]",
        "[class*=piano]",
        "[id*=piano]",
        ".tp-container-inner",
        ".jt-related-stories",
        "[hidden]",
    )
    author_selectors = ("div.byline span.credit", "div.byline a", "div.byline")
    date_selectors = ("div.publish-date", "div.jt-article-details time")
    section_selectors = (".article-section a", ".article-section")
    default_tz = "Asia/Tokyo"
    trailing_slash = True
    # The full body comes from /ajax/getArticleContent/ behind the Piano paywall: never ask.
    forbidden_paths: ClassVar[tuple[str, ...]] = ("/ajax/",)

    @classmethod
    def is_article_url(cls, url: str) -> bool:
        return bool(_ARTICLE_PATH.match(urlsplit(url).path))

    @classmethod
    def fallback_published(cls, url: str, extracted: Extracted) -> datetime | None:
        # The URL date is the JST publication day even when the page is a paywall stub.
        return date_from_path(urlsplit(url).path, cls.default_tz)

    @classmethod
    def date_hint(cls, url: str) -> datetime | None:
        return date_from_path(urlsplit(url).path, cls.default_tz)

    def next_page_url(self, response: Response, page_no: int) -> str | None:
        linked = self.pagination_link(response)
        if linked:
            return linked
        if urlsplit(response.url).path.rstrip("/") == "/search":
            # Search results page with &pgno=N (sources.md §1.4).
            return query_page(response.url, "pgno", page_no + 1)
        # Tag and section archives page as <archive>/page/N/ (legacy format).
        return path_page(response.url, page_no + 1)
