"""`monitor run` with metrics on: /metrics scraped over loopback shows what the user sees."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import FEEDS, FeedServer, write_config
from tests.mirrors import working_and_failing
from tests.processes import Stderr, monitor, start, stop, wait_until


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def samples(text: str) -> dict[str, float]:
    """'name{labels}' → value, from the text exposition format."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def test_metrics_and_healthz_of_a_running_daemon(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    sources = working_and_failing(feed_server)
    config = write_config(
        tmp_path / "feeds.yaml", sources, metrics={"enabled": True, "host": "127.0.0.1", "port": 0}
    )
    started = time.time()
    proc = start(config, db_path)
    log = Stderr(proc)
    try:
        listening = log.wait_for(r"msg=\"metrics server listening\" host=127\.0\.0\.1 port=(\d+)")
        port = int(listening.group(1))
        assert get(port, "/healthz") == (200, "ok\n")

        def polled() -> bool:
            got = samples(get(port, "/metrics")[1])
            return (
                got.get('monitor_polls_total{outcome="ok",source="japantimes"}') == 1
                and got.get('monitor_polls_total{outcome="error",source="ddnews"}') == 1
                and got.get('monitor_source_state{source="ddnews",state="failing"}') == 1
            )

        wait_until(polled)
        status, text = get(port, "/metrics")
        assert get(port, "/healthz") == (200, "ok\n")
    finally:
        code = stop(proc, log)
    assert code == 0, log.text
    assert status == 200
    got = samples(text)

    listed = monitor("articles", "--json", "--limit", "1000", config=config, db=db_path)
    stored = json.loads(listed.stdout)
    assert stored and {a["source"] for a in stored} == {"japantimes"}
    assert got['monitor_articles_total{result="new",source="japantimes"}'] == len(stored)
    assert got['monitor_articles_total{result="new",source="ddnews"}'] == 0  # declared at start
    assert got['monitor_fetch_errors_total{kind="http",source="ddnews"}'] == 1
    assert got['monitor_polls_total{outcome="not_modified",source="japantimes"}'] == 0
    last = got['monitor_last_success_timestamp_seconds{source="japantimes"}']
    assert started - 1 <= last <= time.time()
    assert 'monitor_last_success_timestamp_seconds{source="ddnews"}' not in got
    assert got["monitor_deliveries_pending"] == 0
    assert 0 <= got["monitor_scheduler_heartbeat_age_seconds"] < 60
    assert 0 <= got["monitor_scheduler_lag_seconds"] < 5
    assert "# TYPE monitor_articles_total counter" in text
    # One state per source is 1: what `monitor status` says.
    assert got['monitor_source_state{source="japantimes",state="ok"}'] == 1
    assert got['monitor_source_state{source="japantimes",state="stale"}'] == 0
    assert got['monitor_source_state{source="ddnews",state="ok"}'] == 0
    # The daemon logged the same fetch error the metric counts.
    assert re.search(r"msg=\"feed failed\" source=ddnews .*kind=http", log.text)


def test_port_in_use_is_logged_and_the_daemon_keeps_collecting(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    import socket

    feed_server.serve_file("/feed/", FEEDS / "japantimes_feed.xml")
    sources = [
        {"id": "japantimes", "name": "JT", "base_url": feed_server.base_url, "feeds": ["/feed/"]}
    ]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(
            tmp_path / "feeds.yaml", sources, metrics={"enabled": True, "port": port}
        )
        proc = start(config, db_path)
        log = Stderr(proc)
        try:
            log.wait_for(r"msg=\"metrics server not started; running without it\"")
            log.wait_for(r"msg=\"feed polled\" source=japantimes")
        finally:
            code = stop(proc, log)
    assert code == 0, log.text
    assert f"port={port}" in log.text and "level=error" in log.text
