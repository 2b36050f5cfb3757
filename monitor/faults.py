"""Fault injection for the tests of crashes and failing writes: named points in the code that
SIGKILL the process or raise, only when MONITOR_CRASH_AT / MONITOR_FAIL_AT name them.

Reads: the environment. Writes: nothing (or kills this process, as asked).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading

CRASH_ENV = "MONITOR_CRASH_AT"  # "after_claim": SIGKILL when the point is reached
FAIL_ENV = "MONITOR_FAIL_AT"  # "record_sent:2": that point raises a locked-database error twice
_failures: dict[str, int] = {}
_lock = threading.Lock()


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def fail_point(name: str) -> None:
    """Raise sqlite3.OperationalError the first N times this point is reached, if asked."""
    wanted, _, times = os.environ.get(FAIL_ENV, "").partition(":")
    if wanted != name:
        return
    with _lock:
        done = _failures.get(name, 0)
        if done >= int(times or 1):
            return
        _failures[name] = done + 1
    raise sqlite3.OperationalError(f"database is locked (injected at {name})")
