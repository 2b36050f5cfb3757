"""Loopback mirrors of the outlets for tests that crawl or poll them through real processes.

Reads: tests/data fixtures (dates rendered against the server's clock). Writes: routes on a
FeedServer.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import FEEDS, FeedServer
from tests.spiders import PAGES, expected

HTML = {"Content-Type": "text/html; charset=utf-8"}
LISTINGS = {
    "orf": ("/expert-speak", "listing_expert_speak_p1.html"),
    "japantimes": ("/tag/india/", "listing_tag_india_p1.html"),
    "ddnews": ("/en/category/international/", "listing_international_p1.html"),
}


def mirror_outlet(
    server: FeedServer, outlet: str, robots: str = "User-agent: *\nAllow: /\n"
) -> None:
    path, listing = LISTINGS[outlet]
    server.serve_file(path, PAGES / outlet / listing, headers=HTML)
    server.serve("/robots.txt", robots, headers={"Content-Type": "text/plain"})
    for name, page in expected(outlet, server.clock)["pages"].items():
        server.serve_file(page["path"], PAGES / outlet / name, headers=HTML)


def outlet_source(server: FeedServer, outlet: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": outlet,
        "name": outlet,
        "base_url": server.base_url,
        "crawl": {"listing_paths": [LISTINGS[outlet][0]]},
        **extra,
    }


def working_and_failing(feed_server: FeedServer) -> list[dict[str, Any]]:
    """Two sources on feed_server: JT with a working feed, DD News with one answering 503."""
    feed_server.serve_file("/feed/", FEEDS / "japantimes_feed.xml")
    feed_server.serve("/down/", "unavailable", status=503)
    return [
        {"id": "japantimes", "name": "JT", "base_url": feed_server.base_url, "feeds": ["/feed/"]},
        {"id": "ddnews", "name": "DD", "base_url": feed_server.base_url, "feeds": ["/down/"]},
    ]
