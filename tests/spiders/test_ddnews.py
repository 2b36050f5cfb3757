"""DD News spider on synthetic WordPress listing/article fixtures (tests/data/pages/ddnews/)."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.article import Article
from spiders.ddnews import DDNewsSpider
from tests.fixture_dates import GOLDEN
from tests.spiders import (
    BASE,
    NOW,
    expected,
    page,
    parsed,
    response,
    source,
    urls,
)

OUTLET = "ddnews"
LISTING = BASE + "/en/category/international/"
LISTINGS = expected(OUTLET)["listings"]
P1_ARTICLES = [BASE + p for p in LISTINGS["listing_international_p1.html"]["links"]]
P2_ARTICLES = [BASE + p for p in LISTINGS["listing_international_p2.html"]["links"]]


def spider(**kwargs: Any) -> DDNewsSpider:
    src = source(OUTLET, listing_paths=["/en/category/international/"])
    return DDNewsSpider(source=src, now=NOW, **kwargs)


def listing(s: DDNewsSpider, name: str, url: str = LISTING, page_no: int = 1) -> list[Any]:
    return list(s.parse_listing(response(url, page(OUTLET, name), page_no=page_no)))


def test_pagination_follows_wordpress_page_links() -> None:
    s = spider(max_pages=2)
    requests = listing(s, "listing_international_p1.html")
    assert urls(requests) == [*P1_ARTICLES, LISTING + "page/2/"]
    assert requests[-1].meta["page_no"] == 2
    page2 = listing(s, "listing_international_p2.html", LISTING + "page/2/", page_no=2)
    assert urls(page2) == P2_ARTICLES  # page/3/ is linked but beyond max_pages

    s3 = spider(max_pages=3)
    page2 = listing(s3, "listing_international_p2.html", LISTING + "page/2/", page_no=2)
    assert urls(page2) == [*P2_ARTICLES, LISTING + "page/3/"]


def test_pagination_without_links_uses_the_wordpress_scheme() -> None:
    s = spider(max_pages=3)
    html = page(OUTLET, "listing_international_p2.html")
    html = html[: html.index('<nav class="navigation')] + "</main></body></html>"
    requests = list(s.parse_listing(response(LISTING + "page/2/", html, page_no=2)))
    assert urls(requests)[-1] == LISTING + "page/3/"


def test_no_pagination_from_a_page_without_articles() -> None:
    s = spider(max_pages=5)
    assert listing(s, "listing_changed.html") == []
    assert s.health.empty_listings == [LISTING]


def test_skip_url_is_respected() -> None:
    s = spider(skip_urls=lambda batch: {u for u in batch if "jimex" in u or "rbi" in u})
    assert urls(listing(s, "listing_international_p1.html")) == [P1_ARTICLES[1], P1_ARTICLES[3]]
    assert s.health.skipped == 2


def test_exclude_urls_from_the_source_apply_too() -> None:
    s = spider()
    html = page(OUTLET, "listing_international_p1.html").replace(
        "/en/cabinet-clears-green-hydrogen-hubs-at-three-ports", "/en/web-stories"
    )
    # feeds.yaml excludes /web-stories/ for ddnews
    assert urls(s.parse_listing(response(LISTING, html, page_no=1))) == P1_ARTICLES[:3]


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://ddnews.gov.in/en/india-japan-jimex-26-concludes-off-visakhapatnam/", True),
        ("https://ddnews.gov.in/en/some-post", True),
        ("https://ddnews.gov.in/en/category/international/", False),
        ("https://ddnews.gov.in/en/category/", False),
        ("https://ddnews.gov.in/en/tag/japan/", False),
        ("https://ddnews.gov.in/en/page/2/", False),
        ("https://ddnews.gov.in/en/feed/", False),
        ("https://ddnews.gov.in/en/wp-login.php", False),
        ("https://ddnews.gov.in/en/wp-admin/", False),
        ("https://ddnews.gov.in/en/", False),
        ("https://ddnews.gov.in/hi/india-japan-jimex-26/", False),
        ("https://ddnews.gov.in/wp-content/uploads/2026/11/jimex.jpg", False),
    ],
)
def test_article_url_pattern(url: str, ok: bool) -> None:
    assert DDNewsSpider.is_article_url(url) is ok


def _article(
    name: str, path: str, s: DDNewsSpider | None = None, html: str | None = None
) -> Article:
    s = s or spider()
    items = parsed(s.parse_article(response(BASE + path, html or page(OUTLET, name))))
    assert len(items) == 1
    assert isinstance(items[0], Article)
    return items[0]


def test_page_without_jsonld_or_og_uses_site_markup_and_display_date() -> None:
    a = _article(
        "article_mahsr.html", "/en/mahsr-nhsrcl-completes-350-km-viaduct-bullet-train-corridor/"
    )
    assert a.title.startswith("MAHSR: NHSRCL completes 350 km")
    assert "–" in a.title  # &#8211; decoded
    assert a.published_at == GOLDEN.at("D-2 18:45+05:30")
    assert a.categories == ["National"]
    assert a.guid == "https://ddnews.gov.in/en/?p=1184391"  # the shortlink, like the feed guid
    assert a.summary == ""
    assert "ddAds" not in a.text


def test_share_widgets_are_not_body_text() -> None:
    a = _article("article_jimex.html", "/en/india-japan-jimex-26-concludes-off-visakhapatnam/")
    assert "Share this" not in a.text
    assert "Facebook" not in a.text
    assert a.text.endswith("with the United States and Australia.")


def test_undated_page_falls_back_to_now_and_is_incomplete() -> None:
    s = spider()
    path = "/en/mahsr-nhsrcl-completes-350-km-viaduct-bullet-train-corridor/"
    html = page(OUTLET, "article_mahsr.html").replace(
        GOLDEN.text("D-2 18:45+05:30 %d/%m/%y | %H:%M"), ""
    )
    a = _article("", path, s, html)
    assert a.published_at == NOW
    assert a.published_from_source is False
    assert s.health.incomplete == [BASE + path]
    assert s.layout_problem() is not None  # 1 of 1 article pages incomplete
