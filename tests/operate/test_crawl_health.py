"""What a crawl that fetched no listing page leaves behind (issue 12, item 13): `monitor crawl`
and `monitor run` as subprocesses against loopback sites whose listings answer 503, or against a
port nobody listens on. robots.txt answering 200 is not a fetched listing page: the state names
what happened (failing, unreachable), `status` shows it, and the operator is told."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import FeedServer, SmtpServer, free_port, write_config
from tests.mirrors import HTML, mirror_outlet
from tests.processes import Stderr, monitor, start, stop


def orf(base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "orf",
        "name": "ORF",
        "base_url": base_url,
        "crawl": {"listing_paths": ["/expert-speak"], **extra},
    }


def config(tmp_path: Path, base_url: str, **overrides: Any) -> Path:
    return write_config(
        tmp_path / "feeds.yaml", [orf(base_url)], crawl={"download_delay": 0}, **overrides
    )


def serve_503(server: FeedServer) -> None:
    server.serve("/robots.txt", "User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
    # Retry-After: 0 so the crawl's retries of a 503 do not wait on the wall clock.
    server.serve(
        "/expert-speak",
        "<html><body><h1>503 Service Unavailable</h1></body></html>",
        status=503,
        headers={**HTML, "Retry-After": "0"},
    )


def status_of(cfg: Path, db: Path) -> dict[str, Any]:
    rows = json.loads(monitor("status", "--json", config=cfg, db=db).stdout)
    return {r["source"]: r for r in rows}["orf"]


def test_listings_that_always_answer_503_are_failing_not_a_clean_crawl(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    serve_503(feed_server)
    cfg = config(tmp_path, feed_server.base_url)
    crawled = monitor("crawl", "orf", "--json", config=cfg, db=db_path)
    assert feed_server.hits("/robots.txt") == 1 and feed_server.hits("/expert-speak") >= 1
    assert crawled.returncode == 1, crawled.stdout
    report = json.loads(crawled.stdout)
    assert report["listing_pages"] == 0
    assert "HTTP 503" in report["problem"]
    row = status_of(cfg, db_path)
    assert row["state"] == "failing"  # not "never polled"
    assert "HTTP 503" in row["detail"]

    # The site comes back: the first crawl that reads a listing page is the alert baseline,
    # not the one that only got robots.txt.
    mirror_outlet(feed_server, "orf")
    assert monitor("crawl", "orf", "--json", config=cfg, db=db_path).returncode == 0
    assert status_of(cfg, db_path)["state"] == "ok"
    with sqlite3.connect(db_path) as conn:
        stored = conn.execute("SELECT count(*) FROM article").fetchone()[0]
    assert stored > 0


def test_network_outage_is_unreachable_not_extraction_broken(tmp_path: Path, db_path: Path) -> None:
    cfg = config(tmp_path, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    crawled = monitor("crawl", "orf", "--json", config=cfg, db=db_path)
    assert crawled.returncode == 1
    assert "connection" in json.loads(crawled.stdout)["problem"].lower()
    row = status_of(cfg, db_path)
    assert row["state"] == "unreachable", row
    assert "extraction" not in (row["detail"] or "")


def test_daemon_tells_the_operator_when_listings_always_fail(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer, db_path: Path
) -> None:
    serve_503(feed_server)
    cfg = write_config(
        tmp_path / "feeds.yaml",
        [orf(feed_server.base_url, interval="1s")],
        crawl={"download_delay": 0},
        alerts={"operator": [smtp_server.mail_url(to="ops@example.org")]},
    )
    proc = start(cfg, db_path)
    log = Stderr(proc)
    try:
        assert smtp_server.wait_for(1, timeout=40), log.text
    finally:
        assert stop(proc, log) == 0, log.text
    assert [str(m["Subject"]) for m in smtp_server.messages] == [
        "[monitor] Source ORF (orf) is failing"
    ]
    body = smtp_server.messages[0].get_body(("plain",))
    assert body is not None and "HTTP 503" in body.get_content()
