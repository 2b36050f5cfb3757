"""Who holds an outbox claim: this process's identity, and whether another holder is dead.

Reads: the host name and /proc (a process's start time, so a reused pid is not taken for the
process that died). Writes: nothing.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable
from functools import cache


def start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return fields[19]  # field 22 of stat(5): starttime, counted from after "(comm)"
    except (OSError, IndexError):
        return None


@cache
def process_id() -> str:
    """'host:pid:starttime' of this process, unique for as long as the host runs."""
    start = start_time(os.getpid()) or secrets.token_hex(4)
    return f"{socket.gethostname()}:{os.getpid()}:{start}"


def dead(owners: Iterable[str]) -> set[str]:
    """Owners on this host whose process is gone; others are judged by their lease alone."""
    host = socket.gethostname()
    gone: set[str] = set()
    for owner in owners:
        parts = owner.rsplit(":", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        if start_time(int(parts[1])) != parts[2]:
            gone.add(owner)
    return gone
