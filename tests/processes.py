"""The monitor as its users run it: the CLI and the daemon in child processes.

Reads: nothing. Writes: child processes (their stdout/stderr captured) and nothing else.
"""

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

from tests.conftest import REPO


def monitor(*args: str, config: Path | None = None, db: Path | str | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    cmd = [sys.executable, "-m", "monitor"]
    if config is not None:
        cmd += ["--config", str(config)]
    if db is not None:
        cmd += ["--db", str(db)]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=env, timeout=60, cwd=REPO
    )


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
