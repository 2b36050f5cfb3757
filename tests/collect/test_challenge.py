"""Bot-protection pages are a failure of their own kind ("challenge"): through the real fetcher
against loopback servers, and in a spider's listing and article callbacks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from monitor.collect.challenge import challenge
from spiders.orf import ORFSpider
from tests.collect.test_fetch import body, fetch, fetch_error, serve
from tests.conftest import DATA
from tests.spiders import BASE, NOW, page, parsed, response, source

CLOUDFLARE = (DATA / "pages" / "challenges" / "cloudflare.html").read_bytes()
AKAMAI = (DATA / "pages" / "challenges" / "akamai_denied.html").read_bytes()
HTML = "text/html; charset=UTF-8"


def status(
    code: int, data: bytes, **headers: str
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=code, body=data, headers={"Content-Type": HTML, **headers})

    return handler


@pytest.mark.parametrize(
    ("code", "data", "headers", "what"),
    [
        (403, CLOUDFLARE, {"Server": "cloudflare", "cf-mitigated": "challenge"}, "Cloudflare"),
        (503, CLOUDFLARE, {}, "Cloudflare challenge"),  # the body alone is enough
        (200, CLOUDFLARE, {}, "Cloudflare challenge"),  # even when it answers 200
        (202, b"", {"x-amzn-waf-action": "challenge"}, "AWS WAF challenge"),
        (403, AKAMAI, {"Server": "AkamaiGHost"}, "Akamai access denied"),
    ],
)
def test_a_challenge_is_its_own_failure_kind(
    code: int, data: bytes, headers: dict[str, str], what: str
) -> None:
    async def go() -> None:
        async with serve({"/feed/": status(code, data, **headers)}) as (base, _):
            err = await fetch_error(f"{base}/feed/")
            assert (err.kind, err.status) == ("challenge", code)
            assert what in str(err) and "not bypassed" in str(err)

    asyncio.run(go())


def test_ordinary_errors_and_pages_are_not_challenges() -> None:
    story = (
        b"<html><head><title>Cloudflare outage hits Indian and Japanese sites</title></head>"
        b"<body><p>Visitors saw 'Attention Required! | Cloudflare' and error 1020 pages.</p>"
        b"</body></html>"
    )

    async def go() -> None:
        routes = {
            "/down/": status(503, b"<html><body>Service Unavailable</body></html>"),
            "/gone/": status(403, b"<html><body>Forbidden</body></html>", Server="nginx"),
            "/story/": body(story, **{"Content-Type": HTML}),
        }
        async with serve(routes) as (base, _):
            assert (await fetch_error(f"{base}/down/")).kind == "http"
            assert (await fetch_error(f"{base}/gone/")).kind == "http"
            # A story may quote a block page: at 200 only the challenge scripts count.
            assert (await fetch(f"{base}/story/")).body == story

    asyncio.run(go())
    assert challenge(403, {}, story) == "Cloudflare block"  # with a refusing status it counts


def test_a_challenge_is_blocked_not_a_changed_layout_in_a_spider() -> None:
    s = ORFSpider(source=source("orf", listing_paths=["/expert-speak"]), now=NOW)
    listing = response(BASE + "/expert-speak", CLOUDFLARE.decode(), page_no=1)
    assert list(s.parse_listing(listing)) == []
    assert s.health.listing_pages == 0 and s.health.empty_listings == []
    [why] = s.health.listing_errors
    assert why.kind == "challenge" and "Cloudflare challenge" in why.message
    assert s.layout_problem() is None  # not "listing layout changed"

    path = "/expert-speak/quad-critical-minerals-india-japan-rare-earth-processing"
    assert parsed(s.parse_article(response(BASE + path, CLOUDFLARE.decode()))) == []
    assert s.health.article_pages == 0 and s.health.articles == 0
    assert [e.kind for e in s.health.article_errors] == ["challenge"]
    # the real page still parses
    assert (
        len(parsed(s.parse_article(response(BASE + path, page("orf", "article_rare_earths.html")))))
        == 1
    )


def test_a_challenge_mid_backfill_fails_the_route_instead_of_ending_it() -> None:
    failed: list[tuple[str, int, str]] = []

    class Walk:
        def routes(self) -> list[Any]:
            return []

        def to_fetch(self, route: str, links: list[str]) -> list[str]:
            return links

        def page_done(self, page: Any) -> bool:
            raise AssertionError("a challenge page is no finished listing page")

        def route_failed(self, route: str, page_no: int, url: str, error: str, **_: Any) -> None:
            failed.append((route, page_no, error))

    s = ORFSpider(source=source("orf"), now=NOW, walk=Walk())
    listing = response(
        BASE + "/tags/japan?page=7", CLOUDFLARE.decode(), page_no=7, walk_route="/tags/japan"
    )
    assert list(s.parse_listing(listing)) == []
    [(route, page_no, error)] = failed
    assert (route, page_no) == ("/tags/japan", 7) and "Cloudflare challenge" in error
