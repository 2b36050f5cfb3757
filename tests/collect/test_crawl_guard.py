"""The private-network guard on every connection a crawl makes: names, redirects, rebinding.

Crawls run for real (Scrapy in a child process, or `monitor crawl`). In the child, 127.0.0.2
stands in for the public internet (it is the only address the guard is told to accept); the
"internal" service listens on 127.0.0.1, and names resolve through a table, as in
tests/collect/test_fetch.py's feed-path tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, FeedServer, write_config
from tests.processes import monitor

HTML = {"Content-Type": "text/html; charset=utf-8"}
SLUG = "/expert-speak/india-japan-critical-minerals-and-the-quad-agenda"
INTERNAL = "/expert-speak/internal-admin-page-that-must-never-be-fetched"
LISTING = f'<html><body><div class="all_story"><a href="{SLUG}"><h3>India–Japan</h3></a></div>'

_CHILD = r"""
import ipaddress, json, sys
from twisted.internet import defer
from monitor.collect import netguard
from monitor.collect.crawl import middleware

args = json.loads(sys.argv[1])
real = netguard.is_public_ip
# 127.0.0.2 plays the public internet; every other address is judged as in production.
fake = lambda ip: str(ip) == "127.0.0.2" or real(ip)
netguard.is_public_ip = middleware.is_public_ip = fake

class Table:
    # answers each name from a list, one answer per lookup (the last one repeats)
    def __init__(self, answers):
        self.answers = answers
    def getHostByName(self, name, timeout=(10,)):
        from twisted.internet.error import DNSLookupError
        if name not in self.answers:
            return defer.fail(DNSLookupError(name))
        queue = self.answers[name]
        return defer.succeed(queue.pop(0) if len(queue) > 1 else queue[0])


from monitor.app import open_app
from monitor.config import load_config
from monitor.flow import crawl_source
from monitor.runtime import run_async
from storage.db import Database

async def main():
    config = load_config(args["config"]).config
    db = Database(f"sqlite:///{args['db']}")
    db.create_schema()
    async with open_app(config, db, spiders=True) as app:
        middleware.install_guard(False, inner=Table(args["answers"]))
        report = await crawl_source(app, config.source("orf"))
    return report.to_json()

print(json.dumps(run_async(main)))
"""


def crawl_in_child(tmp_path: Path, port: int, answers: dict[str, list[str]]) -> dict[str, Any]:
    source = {"id": "orf", "name": "ORF", "base_url": f"http://www.outlet.example:{port}",
              "crawl": {"listing_paths": ["/expert-speak"]}}  # fmt: skip
    config = write_config(
        tmp_path / "feeds.yaml", [source], crawl={"download_delay": 0},
        fetch={"allow_private_networks": False, "total_timeout": 5, "connect_timeout": 2},
    )  # fmt: skip
    args = {"config": str(config), "db": str(tmp_path / "m.db"), "answers": answers}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(args)],
        capture_output=True, text=True, timeout=90, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture
def internal() -> Any:
    """The internal service an attacker wants fetched, on a private (loopback) address."""
    server = FeedServer()
    server.serve(INTERNAL, "<html><h1>Internal admin</h1></html>", headers=HTML)
    server.serve(SLUG, "<html><h1>Internal admin</h1></html>", headers=HTML)
    server.serve("/expert-speak", LISTING, headers=HTML)
    server.serve("/robots.txt", "User-agent: *\nAllow: /\n")
    yield server
    server.close()


def test_a_redirect_to_a_subdomain_on_a_private_address_is_never_followed(
    tmp_path: Path, internal: FeedServer
) -> None:
    outlet = FeedServer(host="127.0.0.2", port=internal.port)
    try:
        outlet.serve("/robots.txt", "User-agent: *\nAllow: /\n")
        outlet.serve("/expert-speak", LISTING, headers=HTML)
        target = f"http://intranet.outlet.example:{internal.port}{INTERNAL}"
        outlet.serve(SLUG, "", status=302, headers={"Location": target})
        report = crawl_in_child(
            tmp_path, internal.port,
            {"www.outlet.example": ["127.0.0.2"], "intranet.outlet.example": ["127.0.0.1"]},
        )  # fmt: skip
    finally:
        outlet.close()
    assert outlet.hits(SLUG) == 1  # the redirect was reached, on the "public" host
    assert internal.requests == []  # and never followed to the private address
    assert report["new"] == 0


def test_a_name_that_rebinds_to_a_private_address_is_refused_at_connect(
    tmp_path: Path, internal: FeedServer
) -> None:
    outlet = FeedServer(host="127.0.0.2", port=internal.port)
    try:
        # Each response closes the connection, so every request looks the name up again.
        outlet.serve("/robots.txt", "User-agent: *\nAllow: /\n", headers={"Connection": "close"})
        report = crawl_in_child(
            tmp_path, internal.port, {"www.outlet.example": ["127.0.0.2", "127.0.0.1"]}
        )
    finally:
        outlet.close()
    assert outlet.hits("/robots.txt") == 1  # the first answer was public
    assert internal.requests == []  # the second, private, was refused before connecting
    assert report["new"] == 0 and report["listing_pages"] == 0


def test_a_source_on_localhost_is_not_crawled_when_private_networks_are_refused(
    tmp_path: Path, internal: FeedServer
) -> None:
    source = {"id": "orf", "name": "ORF", "base_url": f"http://localhost:{internal.port}",
              "crawl": {"listing_paths": ["/expert-speak"]}}  # fmt: skip
    config = write_config(
        tmp_path / "feeds.yaml", [source], crawl={"download_delay": 0},
        fetch={"allow_private_networks": False, "total_timeout": 5},
    )  # fmt: skip
    result = monitor("crawl", "orf", "--json", config=config, db=tmp_path / "m.db")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["new"] == 0
    assert internal.requests == []  # not robots.txt, not the listing, not the article
