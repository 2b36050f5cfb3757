"""ORF spider: expert-speak / content-type / tag listings (?page=N) → /expert-speak/ and /research/.

Reads: orfonline.org listing and article pages (sources.md §3.2-3.4; selectors from calibre's
current recipe, sources-evidence.md §1.3). Writes: Article items; the date is JSON-LD /
article:published_time / time[datetime] when present, else the header's "Published on Mon DD,
YYYY" (IST, date only). ORF here is the Observer Research Foundation (orfonline.org), not
Austria's broadcaster ORF (orf.at), which other projects' "OrfParser"s mean.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from scrapy.http import Response

from spiders.base import OutletSpider, query_page

_ARTICLE_PATH = re.compile(r"^/(?:expert-speak|research)/[^/]+$")
# Other-language and video pages share the URL scheme; "bangla" must not catch Bangladesh.
_NOT_ENGLISH = re.compile(r"hindi|marathi|bangla(?!desh)|/videos?/|/multimedia/", re.IGNORECASE)


class ORFSpider(OutletSpider):
    name = "orf"
    # [confirmed, calibre's current orfonline.recipe] every card title is an <a> wrapping an
    # <h3>; [confirmed, a Selenium scraper] .all_story blocks catch cards without one.
    listing_link_selectors = ("a:has(h3)", ".all_story")
    title_selectors = ("h1", "h3.heading_h3")  # [confirmed] calibre; the Selenium scraper
    body_selectors = (".expert_panel_content",)  # [confirmed] calibre keep_only_tags
    # [confirmed] calibre's remove_tags, as the recipe lists them
    drop_selectors = (
        ".social",
        ".socialshare",
        ".comment-area-section",
        ".telegramhtml",
        ".post-tag",
        ".research-prev",
        ".research-next",
        ".col-md-4",
        ".button_group",
        ".sharethis-p",
        ".tags",
    )
    author_selectors = (".author_panel .author_name", ".espert_speak_panel .author_name")
    # The header reads "<Type>Published on <Mon DD, YYYY>"; the wide selectors are the fallback
    # for an unverified layout: parse_date prefers the text right after "Published on".
    date_selectors = (".espert_speak_panel", ".author_panel", "header", "main", "body")
    section_selectors = (".espert_speak_panel .content_type", ".content_type")
    default_tz = "Asia/Kolkata"
    trailing_slash = False

    @classmethod
    def is_article_url(cls, url: str) -> bool:
        parts = urlsplit(url)
        return (
            bool(_ARTICLE_PATH.match(parts.path))
            and not _NOT_ENGLISH.search(parts.path)
            and not parts.path.lower().endswith(".pdf")
        )

    def next_page_url(self, response: Response, page_no: int) -> str | None:
        return self.pagination_link(response) or query_page(response.url, "page", page_no + 1)
