"""Benchmark: many consecutive ORF crawls in ONE process must keep memory and descriptors flat.

A loopback mirror (separate process) serves an ORF-like listing whose 10 links are new on every
request, and article pages built from the synthetic fixture, so every crawl fetches 11 pages and
stores 10 articles through the real spider, crawl runner and pipeline. Prints RSS, open file
descriptors and threads along the way.   Usage: python bench/crawl_bench.py [--crawls 100]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


from bench.loopback import mirror  # noqa: E402
from monitor.app import open_app  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.flow import crawl_source  # noqa: E402
from monitor.runtime import run_async  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.fixture_dates import FixtureClock  # noqa: E402

SERVER = r"""
import re, sys
from aiohttp import web
template = open(sys.argv[1], encoding="utf-8").read()
title = re.search(r"<h1>(.*?)</h1>", template, re.S).group(1)
counter = {"n": 0}
async def listing(request):
    start = counter["n"]
    counter["n"] += 10
    cards = "".join(
        f'<div class="all_story"><a href="/expert-speak/india-japan-piece-{i}">'
        f"<h3>India–Japan piece {i}</h3></a></div>" for i in range(start, start + 10))
    html = ("<!-- SYNTHETIC: bench mirror, not captured from the site -->"
            f"<html><body><div class='container'>{cards}</div></body></html>")
    return web.Response(text=html, content_type="text/html")
async def article(request):
    slug = request.match_info["slug"]
    html = template.replace(title, f"{title} ({slug})")  # unique title: not a fingerprint duplicate
    return web.Response(text=html, content_type="text/html")
async def robots(request):
    return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain")
app = web.Application()
app.router.add_get("/robots.txt", robots)
app.router.add_get("/expert-speak", listing)
app.router.add_get("/expert-speak/{slug}", article)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[-1]), print=None, access_log=None)
"""


def rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def crawl_many(config_path: Path, db_url: str, crawls: int) -> None:
    config = load_config(config_path).config
    db = Database(db_url)
    db.create_schema()
    async with open_app(config, db, spiders=True, download_delay=0) as app:
        await _crawls(app, config.source("orf"), crawls)


async def _crawls(app: Any, source: Any, crawls: int) -> None:
    print(f"{'crawl':>5} {'new':>4} {'pages':>5} {'RSS MiB':>8} {'FDs':>4} {'threads':>7}")
    samples: dict[int, tuple[float, int]] = {}
    t0 = time.perf_counter()
    for n in range(1, crawls + 1):
        report = await crawl_source(app, source)
        if report.new != 10 or report.problem:
            raise SystemExit(f"crawl {n}: expected 10 new articles, got {report}")
        samples[n] = (rss_mib(), fds())
        if n in (1, 2, 5, 10) or n % 10 == 0:
            print(
                f"{n:>5} {report.new:>4} {report.responses:>5} {samples[n][0]:>8.1f} "
                f"{samples[n][1]:>4} {len(os.listdir('/proc/self/task')):>7}"
            )
    wall = time.perf_counter() - t0
    base_rss, base_fd = samples[min(10, crawls)]
    last_rss, last_fd = samples[crawls]
    print(
        f"\n{crawls} crawls in {wall:.1f} s ({wall / crawls * 1000:.0f} ms per crawl of 11 pages)"
    )
    print(f"RSS after crawl 10 -> {crawls}: {base_rss:.1f} -> {last_rss:.1f} MiB")
    print(f"open FDs after crawl 10 -> {crawls}: {base_fd} -> {last_fd}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--crawls", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="monitor-crawl-bench-"))
    # The fixture's date tokens rendered against today: the articles are fresh news.
    template = work / "article.html"
    fixture = REPO / "tests/data/pages/orf/article_rare_earths.html"
    template.write_text(FixtureClock.real().read(fixture), encoding="utf-8")
    with mirror(SERVER, str(template)) as port:
        shipped = yaml.safe_load((REPO / "feeds.yaml").read_text(encoding="utf-8"))
        config = {
            "fetch": {"allow_private_networks": True},
            "crawl": {"download_delay": 0},
            "sources": [
                {
                    "id": "orf",
                    "name": "ORF mirror",
                    "base_url": f"http://127.0.0.1:{port}",
                    "crawl": {"listing_paths": ["/expert-speak"]},
                }
            ],
            "relevance": shipped["relevance"],
            "sectors": shipped["sectors"],
        }
        path = work / "feeds.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        run_async(lambda: crawl_many(path, f"sqlite:///{work / 'bench.db'}", args.crawls))


if __name__ == "__main__":
    main()
