"""Benchmark: `monitor backfill` over two years of three SYNTHETIC outlet archives on loopback.

The archives (tests/archive.py: ~290 articles per outlet, 10 per listing page) are served from this
process; the backfill runs as the real CLI in a child process with no politeness delay, so the
figures are the monitor's own cost per page. Prints pages/s, CPU seconds and peak RSS of the child.
Usage: python bench/backfill_bench.py [--days 730]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.archive import ArchiveMirror, build_pages, mirror_sources, stories  # noqa: E402
from tests.conftest import write_config  # noqa: E402

OUTLETS = ["japantimes", "ddnews", "orf"]


def run(cfg: Path, db: Path, since: str) -> tuple[float, float, list[dict[str, object]]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "monitor", "--config", str(cfg), "--db", str(db),
           "--log-level", "WARNING", "backfill", "--since", since, "--json"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=730)
    args = parser.parse_args()
    mirror = ArchiveMirror()
    for outlet in OUTLETS:
        mirror.pages.update(build_pages(outlet, stories(outlet, days=args.days)))
    mirror.start()
    since = f"{2026 - args.days // 365}-11-24"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = write_config(Path(tmp) / "feeds.yaml", mirror_sources(mirror.base_url, OUTLETS))
            db = Path(tmp) / "monitor.db"
            wall, cpu, reports = run(cfg, db, since)
            pages = len([r for r in mirror.requests if r != "/robots.txt"])
            stored = sum(int(r["new"]) for r in reports)  # type: ignore[call-overload]
            listings = sum(int(r["pages"]) for r in reports)  # type: ignore[call-overload]
            mirror.requests.clear()
            # Start-up alone (imports, reactor, schema): the same command with nothing left to do.
            idle_wall, idle_cpu, again = run(cfg, db, since)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"archive: {args.days} days x {len(OUTLETS)} outlets, since {since}")
            print(f"requests: {pages} pages ({listings} listing pages), {stored} articles stored")
            print(f"wall {wall:.2f} s, CPU {cpu:.2f} s (child process, all three outlets at once)")
            print(f"throughput: {pages / wall:.0f} pages/s wall, {pages / cpu:.0f} pages/CPU-s")
            print(f"database: {db.stat().st_size / 2**20:.1f} MiB; peak RSS (child) {peak:.0f} MiB")
            states = ", ".join(sorted({str(r["state"]) for r in again}))
            asked = len([r for r in mirror.requests if r != "/robots.txt"])
            print(f"second run ({states}, {asked} pages requested: start-up and checkpoints only):"
                  f" wall {idle_wall:.2f} s, CPU {idle_cpu:.2f} s")  # fmt: skip
            walk = wall - idle_wall
            print(f"walk alone (first run minus start-up): {pages / walk:.0f} pages/s")
    finally:
        mirror.close()


if __name__ == "__main__":
    main()
