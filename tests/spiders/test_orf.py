"""ORF spider on synthetic listing/article fixtures (tests/data/pages/orf/)."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.article import Article
from spiders.orf import ORFSpider
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

OUTLET = "orf"
LISTING = BASE + "/expert-speak"
LISTINGS = expected(OUTLET)["listings"]
P1_ARTICLES = [BASE + p for p in LISTINGS["listing_expert_speak_p1.html"]["links"]]
P2_ARTICLES = [BASE + p for p in LISTINGS["listing_expert_speak_p2.html"]["links"]]


def spider(**kwargs: Any) -> ORFSpider:
    return ORFSpider(source=source(OUTLET, listing_paths=["/expert-speak"]), now=NOW, **kwargs)


def listing(s: ORFSpider, name: str, url: str = LISTING, page_no: int = 1) -> list[Any]:
    return list(s.parse_listing(response(url, page(OUTLET, name), page_no=page_no)))


def test_pagination_uses_page_query() -> None:
    s = spider(max_pages=2)
    requests = listing(s, "listing_expert_speak_p1.html")
    assert urls(requests) == [*P1_ARTICLES, LISTING + "?page=2"]
    assert requests[-1].meta["page_no"] == 2
    page2 = listing(s, "listing_expert_speak_p2.html", LISTING + "?page=2", page_no=2)
    assert urls(page2) == P2_ARTICLES

    s3 = spider(max_pages=3)
    page2 = listing(s3, "listing_expert_speak_p2.html", LISTING + "?page=2", page_no=2)
    assert urls(page2)[-1] == LISTING + "?page=3"


def test_pagination_without_links_counts_up() -> None:
    s = spider(max_pages=2)
    html = page(OUTLET, "listing_expert_speak_p1.html")
    html = html[: html.index('<ul class="pagination">')] + "</div></div></div></body></html>"
    requests = list(s.parse_listing(response(LISTING, html, page_no=1)))
    assert urls(requests)[-1] == LISTING + "?page=2"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://www.orfonline.org/expert-speak/xi-s-legacy-in-the-new-era", True),
        ("https://www.orfonline.org/research/strategy-and-culture-india-s-continued", True),
        ("https://www.orfonline.org/expert-speak/bangladesh-japan-matarbari", True),
        ("https://www.orfonline.org/expert-speak", False),
        ("https://www.orfonline.org/expert-speak-category/young-voices", False),
        ("https://www.orfonline.org/hindi/expert-speak/bharat-japan", False),
        ("https://www.orfonline.org/expert-speak/marathi-bharat-japan", False),
        ("https://www.orfonline.org/expert-speak/bangla-bharat-japan", False),
        ("https://www.orfonline.org/research/issue-brief-2026.pdf", False),
        ("https://www.orfonline.org/expert-speak/video/quad-dialogue", False),
        ("https://www.orfonline.org/tags/japan", False),
    ],
)
def test_article_url_pattern(url: str, ok: bool) -> None:
    assert ORFSpider.is_article_url(url) is ok


def _article(path: str, html: str, s: ORFSpider | None = None) -> Article:
    s = s or spider()
    items = parsed(s.parse_article(response(BASE + path, html)))
    assert len(items) == 1
    assert isinstance(items[0], Article)
    return items[0]


def test_header_date_is_ist_midnight() -> None:
    a = _article(
        "/expert-speak/quad-critical-minerals-india-japan-rare-earth-processing",
        page(OUTLET, "article_rare_earths.html"),
    )
    assert a.published_at == GOLDEN.at("D-3 00:00+05:30")  # midnight IST
    assert a.published_from_source is True
    assert a.author == "Kavya Iyer, Takeshi Hara"


def test_drop_selectors_remove_page_chrome() -> None:
    a = _article(
        "/expert-speak/quad-critical-minerals-india-japan-rare-earth-processing",
        page(OUTLET, "article_rare_earths.html"),
    )
    for chrome in ("Tweet", "Telegram", "Critical minerals", "Next:"):
        assert chrome not in a.text
    b = _article(
        "/expert-speak/eu-cbam-and-indian-steel-exporters", page(OUTLET, "article_cbam.html")
    )
    for chrome in ("Facebook", "Comments", "first to comment", "Climate\n"):
        assert chrome not in b.text
    c = _article(
        "/research/india-japan-defence-industrial-cooperation-unicorn-masts",
        page(OUTLET, "article_defence.html"),
    )
    assert "Download PDF" not in c.text
    assert "Share" not in c.text


def test_mostly_undated_articles_are_a_layout_problem() -> None:
    s = spider()
    for name, exp in expected(OUTLET)["pages"].items():
        html = page(OUTLET, name)
        if name != "article_defence.html":  # keep one page dated by its JSON-LD
            html = html.replace("Published on", "").replace(GOLDEN.text("D-3 mdy"), "")
            html = html.replace(GOLDEN.text("D-6 mdy"), "")
        _article(exp["path"], html, s)
    assert len(s.health.incomplete) == 2
    assert s.health.articles == 3
    problem = s.layout_problem()
    assert problem is not None
    assert "2 of 3" in problem


def test_hostile_hrefs_do_not_stop_the_listing() -> None:
    s = spider(max_pages=3)
    html = (
        '<a href="http://[::1/expert-speak/x"><h3>x</h3></a>'
        "<a href=\"javascript:go('/expert-speak/y')\"><h3>y</h3></a>"
        '<a href="/expert-speak/ok"><h3>ok</h3></a>'
        '<a rel="next" href="http://[bad">next</a>'
    )
    requests = list(s.parse_listing(response(LISTING, html, page_no=1)))
    assert urls(requests) == [BASE + "/expert-speak/ok", LISTING + "?page=2"]
