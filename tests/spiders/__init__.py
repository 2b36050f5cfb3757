"""Helpers for the spider tests: fixture responses, loopback sources and a real Scrapy crawl.

Reads: tests/data/pages/<outlet>/ fixtures (their date tokens rendered against the test's clock:
GOLDEN for in-process parsing, the loopback server's clock for real crawls) and feeds.yaml.
Writes: nothing (the crawl helper runs Scrapy in a child process so the Twisted reactor never
starts inside pytest).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from scrapy import Request
from scrapy.http import HtmlResponse

from monitor.config import SourceConfig
from tests.conftest import DATA, REPO, FeedServer, shipped_config
from tests.fixture_dates import GOLDEN, FixtureClock

PAGES = DATA / "pages"
BASE = "http://127.0.0.1:8080"
NOW = GOLDEN.now
HTML = {"Content-Type": "text/html; charset=utf-8"}


def page(outlet: str, name: str, clock: FixtureClock = GOLDEN) -> str:
    return clock.read(PAGES / outlet / name)


def expected(outlet: str, clock: FixtureClock = GOLDEN) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(clock.read(PAGES / outlet / "expected.json"))
    return data


def source(
    outlet: str, base_url: str = BASE, listing_paths: list[str] | None = None
) -> SourceConfig:
    """The shipped feeds.yaml source, moved to base_url (exclude_urls and language kept)."""
    raw = next(s for s in shipped_config()["sources"] if s["id"] == outlet)
    raw = {**raw, "base_url": base_url}
    if listing_paths is not None:
        raw["crawl"] = {"listing_paths": listing_paths}
    return SourceConfig.model_validate(raw)


def response(url: str, body: str, **meta: Any) -> HtmlResponse:
    return HtmlResponse(url=url, body=body, encoding="utf-8", request=Request(url, meta=meta))


def parsed(results: Any) -> list[Any]:
    """What a spider callback produced: an async generator (parse_article) or an iterable."""
    if hasattr(results, "__aiter__"):

        async def drain() -> list[Any]:
            return [item async for item in results]

        return asyncio.run(drain())
    return list(results)


def urls(requests: Iterable[Any]) -> list[str]:
    return [r.url for r in requests]


_CRAWL = """
import dataclasses, json, sys
from datetime import UTC, datetime
import scrapy
from scrapy.crawler import AsyncCrawlerProcess
from monitor.config import SourceConfig
from spiders import SPIDERS

args = json.loads(sys.argv[1])
items = []
process = AsyncCrawlerProcess({"LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False,
                               "REMOTE_CONTROL_ENABLED": False, "ROBOTSTXT_OBEY": False})
crawler = process.create_crawler(SPIDERS[args["id"]])
crawler.signals.connect(lambda item, response, spider: items.append(item.url),
                        signal=scrapy.signals.item_scraped, weak=False)
process.crawl(crawler, source=SourceConfig.model_validate(args["source"]),
              now=datetime.fromisoformat(args["now"]), max_pages=args["max_pages"])
process.start()
print(json.dumps({"items": items, "health": dataclasses.asdict(crawler.spider.health),
                  "problem": crawler.spider.layout_problem()}))
"""


def crawl(src: SourceConfig, now: datetime, max_pages: int = 1) -> dict[str, Any]:
    """Run the source's spider through Scrapy for real, in a child process; items are URLs."""
    args = {
        "id": src.id,
        "source": src.model_dump(),
        "now": now.isoformat(),
        "max_pages": max_pages,
    }
    done = subprocess.run(
        [sys.executable, "-c", _CRAWL, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def serve_pages(server: FeedServer, outlet: str, routes: dict[str, str]) -> None:
    for path, name in routes.items():
        server.serve_file(path, PAGES / outlet / name, headers=HTML)


__all__ = [
    "BASE",
    "HTML",
    "NOW",
    "PAGES",
    "FeedServer",
    "crawl",
    "expected",
    "page",
    "parsed",
    "response",
    "serve_pages",
    "source",
    "urls",
]
