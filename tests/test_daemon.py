"""`monitor run` as a real process: it polls on schedule and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import FEEDS, REPO, FeedServer, write_config


def start(config: Path, db: Path | None, **extra_env: str) -> subprocess.Popen[str]:
    """`monitor run`; db None: the default database ($STATE_DIRECTORY/monitor.db if set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.pop("STATE_DIRECTORY", None)
    env.update(extra_env)
    db_args = ["--db", str(db)] if db is not None else []
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), *db_args, "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


class Stderr:
    """Reads a running daemon's log lines as they come, so a test can wait for one."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        found: list[re.Match[str]] = []

        def seen() -> bool:
            found[:] = [m for line in list(self.lines) if (m := re.search(pattern, line))]
            return bool(found)

        wait_until(seen, timeout)
        return found[0]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def close(self) -> None:
        self._thread.join(timeout=10)


def stop(proc: subprocess.Popen[str], log: Stderr) -> int:
    """SIGTERM, then the exit code (the process is killed if it does not stop in 30 s)."""
    try:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=30)
    finally:
        proc.kill()
        log.close()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def wait_until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # schema not created yet


def working_and_failing(feed_server: FeedServer) -> list[dict[str, Any]]:
    """Two sources on feed_server: JT with a working feed, DD News with one answering 503."""
    feed_server.serve_file("/feed/", FEEDS / "japantimes_feed.xml")
    feed_server.serve("/down/", "unavailable", status=503)
    return [
        {"id": "japantimes", "name": "JT", "base_url": feed_server.base_url, "feeds": ["/feed/"]},
        {"id": "ddnews", "name": "DD", "base_url": feed_server.base_url, "feeds": ["/down/"]},
    ]


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
    from tests.test_crawl import mirror_outlet, outlet_source

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
