"""What every outlet spider must do, checked against its golden pages (tests/data/pages/<outlet>/).

The outlet files (test_japantimes.py, …) test what is particular to one site: its paging, its
date quirks, its paywall. A new spider gets these tests by adding its fixtures and expected.json.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.article import Article
from spiders import SPIDER_NAMES, SPIDERS
from spiders.base import OutletSpider
from tests.spiders import (
    BASE,
    NOW,
    FeedServer,
    crawl,
    expected,
    page,
    parsed,
    response,
    serve_pages,
    urls,
)
from tests.spiders import source as outlet_source

OUTLETS = sorted(SPIDER_NAMES)
PAGES = [(o, name) for o in OUTLETS for name in expected(o)["pages"]]
LISTINGS = [(o, name) for o in OUTLETS for name in expected(o)["listings"]]


def spider(outlet: str, **kwargs: Any) -> OutletSpider:
    src = outlet_source(outlet, listing_paths=[expected(outlet)["listing_path"]])
    return SPIDERS[outlet](source=src, now=NOW, **kwargs)


def parse_article(s: OutletSpider, path: str, html: str) -> list[Any]:
    return parsed(s.parse_article(response(BASE + path, html)))


@pytest.mark.parametrize("outlet", OUTLETS)
def test_registered_under_its_source_id(outlet: str) -> None:
    assert SPIDERS[outlet].name == outlet
    assert set(SPIDERS) == SPIDER_NAMES  # the names known without importing Scrapy
    with pytest.raises(ValueError, match=outlet):
        SPIDERS[outlet](source=outlet_source(next(o for o in OUTLETS if o != outlet)), now=NOW)
    with pytest.raises(ValueError, match="aware"):
        SPIDERS[outlet](source=outlet_source(outlet), now=NOW.replace(tzinfo=None))
    assert set(spider(outlet).allowed_domains) == {"127.0.0.1"}


@pytest.mark.parametrize(("outlet", "name"), LISTINGS, ids=[f"{o}/{n}" for o, n in LISTINGS])
def test_listing_yields_exactly_the_article_links(outlet: str, name: str) -> None:
    listing = expected(outlet)["listings"][name]
    s = spider(outlet)  # max_pages=1: article links only, no next page
    requests = list(
        s.parse_listing(
            response(BASE + listing["path"], page(outlet, name), page_no=listing["page_no"])
        )
    )
    assert urls(requests) == [BASE + path for path in listing["links"]], listing.get("about")
    assert all(r.callback == s.parse_article for r in requests)
    assert s.health.listing_pages == 1
    assert s.health.article_links == len(listing["links"])


@pytest.mark.parametrize(("outlet", "name"), PAGES, ids=[f"{o}/{n}" for o, n in PAGES])
def test_article_callback_matches_expected(outlet: str, name: str) -> None:
    exp = expected(outlet)["pages"][name]
    s = spider(outlet)
    [a] = parse_article(s, exp["path"], page(outlet, name))
    assert isinstance(a, Article)
    assert a.source_id == outlet
    # the pages' canonical links name the real host; on the mirror only the fetched URL counts
    assert a.url == a.original_url == BASE + exp["path"]
    assert a.title == exp["title"]
    assert a.published_at == datetime.fromisoformat(exp["published_at"])
    assert a.published_at.tzinfo is UTC and a.published_from_source is True
    assert a.first_seen_at == NOW
    assert a.author == exp["author"]
    assert a.categories == [c for c in [exp["section"], *exp["keywords"]] if c]
    assert a.text.startswith(exp["text_start"])
    assert a.summary.startswith(exp["description_start"])
    assert a.guid == exp["site_id"]
    assert a.language == outlet_source(outlet).language
    assert s.layout_problem() is None


@pytest.mark.parametrize("outlet", OUTLETS)
def test_a_changed_listing_layout_is_a_problem(outlet: str) -> None:
    s = spider(outlet)
    changed = expected(outlet)["changed_listing"]
    assert list(s.parse_listing(response(BASE + "/x/", page(outlet, changed), page_no=1))) == []
    assert s.health.listing_pages == 1 and s.health.article_links == 0
    problem = s.layout_problem()
    assert problem is not None and "no article links" in problem and "\n" not in problem


@pytest.mark.parametrize("outlet", OUTLETS)
def test_a_page_without_a_title_yields_nothing_and_is_a_problem(outlet: str) -> None:
    s = spider(outlet)
    path = expected(outlet)["listings"][next(iter(expected(outlet)["listings"]))]["links"][0]
    html = "<html><body><div class='entry-content'><p>Body only.</p></div></body></html>"
    assert parse_article(s, path, html) == []
    assert (s.health.article_pages, s.health.articles) == (1, 0)
    problem = s.layout_problem()
    assert problem is not None and "no article extracted" in problem


@pytest.mark.parametrize("outlet", OUTLETS)
def test_real_crawl_over_loopback(outlet: str, feed_server: FeedServer) -> None:
    golden = expected(outlet, feed_server.clock)
    # The listing route and its page 2 (an outlet may declare more listings, e.g. search).
    first = golden["listing_path"]
    listings = [
        next(item for item in golden["listings"].items() if item[1]["path"] == first),
        next(item for item in golden["listings"].items() if item[1]["page_no"] == 2),
    ]
    pages = golden["pages"]
    routes = {lst["path"]: name for name, lst in listings}
    serve_pages(feed_server, outlet, {**routes, **{e["path"]: n for n, e in pages.items()}})
    src = outlet_source(
        outlet, base_url=feed_server.base_url, listing_paths=[first, "/no-such-listing/"]
    )
    result = crawl(src, feed_server.clock.now, max_pages=2)
    links = [link for _, lst in listings for link in lst["links"]]
    fixtures = [e["path"] for e in pages.values() if e["path"] in links]
    assert sorted(result["items"]) == sorted(feed_server.base_url + p for p in fixtures)
    health = result["health"]
    assert (health["listing_pages"], health["listing_failures"]) == (2, 1)  # one path is a 404
    assert health["article_links"] == len(links)
    assert health["article_failures"] == len(links) - len(fixtures)  # links without a fixture
    assert result["problem"] is None
    # Nothing else was asked for: no page 3 (max_pages=2), no paywall or off-site endpoint.
    asked = {path for path, _ in feed_server.requests}
    assert asked == {*routes, "/no-such-listing/", *links}
