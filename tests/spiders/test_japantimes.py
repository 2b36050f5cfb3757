"""The Japan Times spider on synthetic listing/article fixtures (tests/data/pages/japantimes/)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from monitor.article import Article
from spiders.japantimes import JapanTimesSpider
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

OUTLET = "japantimes"


def day(offset: int) -> str:
    """The URL date (YYYY/MM/DD) of the golden clock's day + offset, as the fixtures write it."""
    return GOLDEN.text(f"D{offset:+d} path")


LISTING = BASE + "/tag/india/"
LISTINGS = expected(OUTLET)["listings"]
P1_ARTICLES = [BASE + p for p in LISTINGS["listing_tag_india_p1.html"]["links"]]
P2_ARTICLES = [BASE + p for p in LISTINGS["listing_tag_india_p2.html"]["links"]]


def spider(**kwargs: Any) -> JapanTimesSpider:
    return JapanTimesSpider(source=source(OUTLET, listing_paths=["/tag/india/"]), now=NOW, **kwargs)


def listing(s: JapanTimesSpider, name: str, url: str = LISTING, page_no: int = 1) -> list[Any]:
    return list(s.parse_listing(response(url, page(OUTLET, name), page_no=page_no)))


def test_allowed_domains_cover_bare_and_www_host() -> None:
    s = JapanTimesSpider(source=source(OUTLET, base_url="https://www.japantimes.co.jp"), now=NOW)
    assert set(s.allowed_domains) == {"japantimes.co.jp", "www.japantimes.co.jp"}


def test_start_requests_every_listing_path() -> None:
    s = JapanTimesSpider(source=source(OUTLET), now=NOW)

    async def collect() -> list[str]:
        return [r.url async for r in s.start()]

    assert asyncio.run(collect()) == [
        BASE + "/news/asia-pacific/",
        BASE + "/tag/india/",
        BASE + "/commentary/world/",
    ]


def test_pagination_only_when_max_pages_allows() -> None:
    s = spider(max_pages=2)
    requests = listing(s, "listing_tag_india_p1.html")
    assert urls(requests) == [*P1_ARTICLES, BASE + "/tag/india/?pgno=2"]
    nxt = requests[-1]
    assert nxt.callback == s.parse_listing
    assert nxt.meta["page_no"] == 2
    # page 2 links to page 3, but max_pages=2 stops there
    requests = listing(s, "listing_tag_india_p2.html", BASE + "/tag/india/?pgno=2", page_no=2)
    assert urls(requests) == P2_ARTICLES
    assert s.health.listing_pages == 2


def test_skip_url_is_respected() -> None:
    known = set(P1_ARTICLES[1:3])
    seen: list[list[str]] = []

    def skip(batch: list[str]) -> set[str]:
        seen.append(batch)
        return known & set(batch)

    s = spider(skip_urls=skip)
    assert urls(listing(s, "listing_tag_india_p1.html")) == [P1_ARTICLES[0], P1_ARTICLES[3]]
    assert seen == [P1_ARTICLES]  # asked once per page, each distinct canonical link once
    assert s.health.skipped == 2
    assert s.health.article_links == 4
    assert s.layout_problem() is None


def test_never_follows_paywall_endpoints() -> None:
    s = spider(max_pages=5)
    html = page(OUTLET, "listing_tag_india_p1.html").replace(
        '<a class="next" href="?pgno=2">',
        '<a class="next" href="/ajax/getArticleContent/?data=eyJ4IjoxfQ">',
    )
    requests = list(s.parse_listing(response(LISTING, html, page_no=1)))
    assert not any("/ajax/" in u for u in urls(requests))
    assert urls(requests) == P1_ARTICLES


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://www.japantimes.co.jp/news/2026/11/20/business/tech/slug/", True),
        ("https://www.japantimes.co.jp/news/2026/11/20/japan/slug", True),
        ("https://www.japantimes.co.jp/commentary/2026/11/21/world/slug/", True),
        ("https://www.japantimes.co.jp/news/asia-pacific/", False),
        ("https://www.japantimes.co.jp/tag/india/", False),
        ("https://www.japantimes.co.jp/author/int-shashi_tharoor", False),
        ("https://www.japantimes.co.jp/news/2026/11/20/", False),
        ("https://www.japantimes.co.jp/archive/2026/11/20/", False),
        ("https://www.japantimes.co.jp/ajax/getArticleContent/", False),
    ],
)
def test_article_url_pattern(url: str, ok: bool) -> None:
    assert JapanTimesSpider.is_article_url(url) is ok


def _article(name: str, path: str, s: JapanTimesSpider | None = None) -> Article:
    s = s or spider()
    items = parsed(s.parse_article(response(BASE + path, page(OUTLET, name))))
    assert len(items) == 1
    item = items[0]
    assert isinstance(item, Article)
    return item


def test_jsonld_offset_and_jst_default() -> None:
    with_offset = _article(
        "article_semiconductors.html",
        f"/news/{day(-3)}/business/tech/india-japan-semiconductor-fab-dholera/",
    )
    assert with_offset.published_at == GOLDEN.at("D-3 17:42+09:00")
    naive = _article(
        "article_bears.html", f"/news/{day(-4)}/japan/society/akita-bear-sightings-record/"
    )
    assert naive.published_at == GOLDEN.at("D-4 11:05+09:00")


def test_paywalled_page_keeps_only_the_open_preview() -> None:
    a = _article(
        "article_paywalled.html",
        f"/commentary/{day(-2)}/world/india-japan-rare-earths-quad-supply/",
    )
    assert a.text.endswith("plants in Jiangxi and Inner Mongolia.")
    assert "Subscribe" not in a.text
    assert "SHOULD NOT BE STORED" not in a.text  # JSON-LD body of a not-free article
    assert len(a.text.split()) < 100


def test_date_falls_back_to_the_url() -> None:
    path = f"/news/{day(-1)}/asia-pacific/mahsr-shinkansen-e10-trial-run-gujarat/"
    html = page(OUTLET, "article_mahsr.html").replace(
        f'<div class="publish-date">{GOLDEN.text("D-1 mdy")}</div>', ""
    )
    s = spider()
    (a,) = parsed(s.parse_article(response(BASE + path, html)))
    assert a.published_at == GOLDEN.at("D-1 00:00+09:00")  # midnight JST
    assert a.published_from_source is True
    assert s.health.incomplete == []


def test_canonical_trusted_only_on_the_same_site() -> None:
    real = source(OUTLET, base_url="https://www.japantimes.co.jp")
    s = JapanTimesSpider(source=real, now=NOW)
    path = f"/news/{day(-3)}/business/tech/india-japan-semiconductor-fab-dholera/"
    fetched = "https://japantimes.co.jp" + path + "?utm_source=rss&page=2"
    (a,) = parsed(s.parse_article(response(fetched, page(OUTLET, "article_semiconductors.html"))))
    assert a.url == "https://www.japantimes.co.jp" + path
    assert a.original_url == fetched

    forged = page(OUTLET, "article_semiconductors.html").replace(
        'rel="canonical" href="https://www.japantimes.co.jp/',
        'rel="canonical" href="https://evil.example/',
    )
    (b,) = parsed(s.parse_article(response(fetched, forged)))
    assert b.url == "https://japantimes.co.jp" + path + "?page=2"


def test_no_layout_problem_on_a_good_crawl() -> None:
    s = spider()
    listing(s, "listing_tag_india_p1.html")
    _article(
        "article_semiconductors.html",
        f"/news/{day(-3)}/business/tech/india-japan-semiconductor-fab-dholera/",
        s,
    )
    assert s.health.articles == 1
    assert s.layout_problem() is None


def test_redirect_away_from_an_article_is_not_stored() -> None:
    s = spider()
    html = page(OUTLET, "article_semiconductors.html").replace(
        f'rel="canonical" href="https://www.japantimes.co.jp/news/{day(-3)}/business/tech/'
        'india-japan-semiconductor-fab-dholera/"',
        'rel="canonical" href="/"',
    )
    assert parsed(s.parse_article(response(BASE + "/", html))) == []
    assert s.health.article_pages == 1
    assert s.layout_problem() is not None


def test_every_listing_pages_with_pgno() -> None:
    """Current listings and search page ?pgno=N (sources-evidence.md §1.2), never /page/N/."""
    s = spider()
    search = BASE + "/search?query=India&section=all&content=all&qsort=newest"
    bare = "<html><body><div class='search-results'></div></body></html>"
    assert s.next_page_url(response(search, bare), 1) == search + "&pgno=2"
    assert s.next_page_url(response(search + "&pgno=7", bare), 7) == search + "&pgno=8"
    tag = BASE + "/tag/india/?pgno=3"
    assert s.next_page_url(response(tag, bare), 3) == BASE + "/tag/india/?pgno=4"
    # both slash forms of the stored author pages
    author = BASE + "/author/321/brahma-chellaney"
    assert s.next_page_url(response(author, bare), 1) == author + "?pgno=2"
    assert s.next_page_url(response(author + "/?pgno=12", bare), 12) == author + "/?pgno=13"
    linked = "<html><head><link rel='next' href='/tag/india/?pgno=9'></head></html>"
    assert s.next_page_url(response(tag, linked), 3) == BASE + "/tag/india/?pgno=9"


def test_search_results_and_2022_design_pages_are_read() -> None:
    s = spider()
    search = expected(OUTLET)["listings"]["listing_search_p1.html"]
    requests = listing(s, "listing_search_p1.html", BASE + search["path"])
    assert urls(requests) == [BASE + p for p in search["links"]]
    old = expected(OUTLET)["pages"]["article_2022_design.html"]
    a = _article("article_2022_design.html", old["path"])
    assert a.title == old["title"] and a.author == "Rajiv Menon"
    assert "Tweet" not in a.text


def test_url_date_is_a_hint_before_fetching() -> None:
    url = BASE + f"/news/{day(-3)}/business/tech/india-japan-semiconductor-fab-dholera/"
    # Midnight JST of the URL's day.
    assert JapanTimesSpider.date_hint(url) == GOLDEN.at("D-3 00:00+09:00")
    assert JapanTimesSpider.date_hint(BASE + "/tag/india/") is None
