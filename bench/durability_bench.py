"""Benchmark: what synchronous=FULL costs the outbox against NORMAL, on this machine's disk.

Writes 1,000 small committed transactions (an outbox row each, as the dispatcher's claims and
"sent" marks are) into a WAL database under each setting and prints the time per commit. WAL
with NORMAL may lose the last commits on power loss, and a lost "sent" mark means a repeated
alert; FULL syncs the WAL on every commit.   Usage: python bench/durability_bench.py [--dir D]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

COMMITS = 1000


def per_commit(path: Path, synchronous: str) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE IF NOT EXISTS delivery (id INTEGER PRIMARY KEY, state TEXT)")
    started = time.perf_counter()
    for n in range(COMMITS):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO delivery (state) VALUES (?)", (f"sent {n}",))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed / COMMITS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default=None, help="where the database goes (the data disk)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        results = {mode: per_commit(Path(tmp) / f"{mode}.db", mode) for mode in ("NORMAL", "FULL")}
    for mode, seconds in results.items():
        print(f"synchronous={mode:<6} {seconds * 1e6:8.0f} µs per commit")
    print(f"FULL costs {(results['FULL'] - results['NORMAL']) * 1e6:.0f} µs more per commit; "
          "a poll of 200 feeds commits about 4 times per feed")  # fmt: skip


if __name__ == "__main__":
    main()
