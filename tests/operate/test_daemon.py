"""`monitor run` as a real process: it polls on schedule and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from tests.conftest import FEEDS, FeedServer, write_config
from tests.mirrors import working_and_failing
from tests.processes import count, start, wait_until


def test_daemon_polls_then_exits_cleanly_on_sigterm(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    proc = start(write_config(tmp_path / "feeds.yaml", working_and_failing(feed_server)), db_path)
    try:
        wait_until(lambda: count(db_path, "SELECT count(*) FROM fetch_log") >= 2)
        assert count(db_path, "SELECT count(*) FROM article") > 0
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "daemon started" in err and "daemon stopped" in err
    assert "feed failed" in err and "HTTP 503" in err  # the failing source is logged, not fatal


def test_sigterm_lets_an_in_flight_poll_finish(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    feed_server.serve_file("/slow/", FEEDS / "ddnews_feed.xml", delay=1.5)
    sources = [
        {"id": "ddnews", "name": "DD", "base_url": feed_server.base_url, "feeds": ["/slow/"]}
    ]
    proc = start(write_config(tmp_path / "feeds.yaml", sources), db_path)
    try:
        assert feed_server.slow_started.wait(30)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert count(db_path, "SELECT count(*) FROM article") > 0  # the poll completed and stored
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_daemon_runs_feeds_and_spiders_side_by_side(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    from tests.mirrors import mirror_outlet, outlet_source

    mirror_outlet(feed_server, "orf")
    feed_server.serve_file("/feed/", FEEDS / "japantimes_feed.xml")
    sources = [
        {"id": "japantimes", "name": "JT", "base_url": feed_server.base_url, "feeds": ["/feed/"]},
        outlet_source(feed_server, "orf"),
    ]
    cfg = write_config(tmp_path / "feeds.yaml", sources, crawl={"download_delay": 0})
    proc = start(cfg, db_path)
    try:
        wait_until(
            lambda: (
                count(db_path, "SELECT count(DISTINCT source_id) FROM article") == 2
                and count(db_path, "SELECT count(*) FROM crawl_run") >= 1
            )
        )
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "crawl finished" in err and "feed polled" in err


def test_systemd_notifications_ready_watchdog_stopping(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    import socket

    feed_server.serve_file("/feed/", FEEDS / "japantimes_feed.xml")
    sources = [
        {"id": "japantimes", "name": "JT", "base_url": feed_server.base_url, "feeds": ["/feed/"]}
    ]
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.1)
    received: list[str] = []

    def drain() -> None:
        while True:
            try:
                received.extend(sock.recv(4096).decode().splitlines())
            except TimeoutError:
                return

    proc = start(
        write_config(tmp_path / "feeds.yaml", sources),
        db_path,
        NOTIFY_SOCKET=str(sock_path),
        WATCHDOG_USEC="400000",
    )
    try:
        wait_until(lambda: drain() or received.count("WATCHDOG=1") >= 2)
        assert "READY=1" in received
        assert any(line.startswith("STATUS=") for line in received)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        drain()
        sock.close()
    assert proc.returncode == 0, err
    assert "STOPPING=1" in received
    assert received.index("READY=1") < received.index("STOPPING=1")
