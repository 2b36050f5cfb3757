"""DD News spider: WordPress category listings (/page/N/) → /en/<slug>/ posts.

Reads: ddnews.gov.in English listing and article pages (sources.md §2.4, sources-evidence.md
§1.3). Writes: Article items; dates from JSON-LD / article:published_time, else the "DD/MM/YY |
HH:MM" display date (IST). Nothing depends on og tags: some DD pages have none (not even
og:image), so the markup and trafilatura fallbacks carry those pages.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from scrapy.http import Response

from spiders.base import OutletSpider, path_page

_ARTICLE_PATH = re.compile(r"^/en/(?P<slug>[^/]+)/?$")
# One-segment WordPress paths under /en/ that are not posts.
_NOT_POSTS = frozenset({"category", "tag", "page", "feed", "author", "search", "comments", "amp"})


class DDNewsSpider(OutletSpider):
    name = "ddnews"
    # [confirmed] article.post / h2.entry-title a: archakNath/AI-News-Heading-Scrapper
    listing_link_selectors = ("article.post h2.entry-title a", "article.post .entry-title a")
    # [inference] WordPress single-post defaults: no scraper with DD article selectors exists
    title_selectors = ("h1.entry-title", "article.post h1")
    body_selectors = (".entry-content",)
    drop_selectors = (
        ".sharedaddy",
        ".share-buttons",
        ".social-share",
        ".jp-relatedposts",
        ".related-posts",
        ".post-tags",
        ".tags-links",
        "figure",
    )
    author_selectors = (".entry-meta .author a", ".entry-meta .author", ".byline .author")
    date_selectors = (
        ".entry-meta time.entry-date",
        "p.colorPrimary",  # [confirmed on listings] p.mb-0.colorPrimary.fs-14, "16/06/25 | 22:56 "
        ".entry-meta .posted-on",
        ".post-date",
    )
    section_selectors = (".cat-links a", ".entry-category a")
    default_tz = "Asia/Kolkata"
    # [confirmed] DD links its posts both with and without the slash: one form, with it.
    trailing_slash = True

    @classmethod
    def is_article_url(cls, url: str) -> bool:
        m = _ARTICLE_PATH.match(urlsplit(url).path)
        if not m:
            return False
        slug = m.group("slug").lower()
        return slug not in _NOT_POSTS and not slug.startswith("wp-") and "." not in slug

    def next_page_url(self, response: Response, page_no: int) -> str | None:
        # WordPress archives page as <archive>/page/N/ even when the theme hides the links.
        return self.pagination_link(response) or path_page(response.url, page_no + 1)
