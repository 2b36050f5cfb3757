"""Benchmark: what `monitor run` costs per round once it is running (no start-up), and whether
its memory stays flat.

Serves SYNTHETIC feeds from ../shared/peers (feedgen.py, and serve.py with ETag/304) on loopback,
starts the real daemon process with the spiders loaded (an ORF-style source with a crawl), and
reads its CPU (/proc/PID/stat) and memory (/proc/PID/status) at the end of every poll round (a
round ends when the fetch log holds another N lines). Two phases:
  idle:  N feeds (default 1,000), all answering 304 after the first round: CPU-s per round;
  soak:  a small set of feeds polled every second for R rounds (default 1,000): RSS growth.
Usage: python bench/daemon_bench.py [--feeds 1000] [--rounds 6] [--soak-feeds 20]
                                    [--soak-rounds 1000] [--log-level INFO] [--peers DIR]
Prints one line per phase; nothing is asserted.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime + stime


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def fetch_lines(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0
    try:
        return int(con.execute("SELECT count(*) FROM fetch_log").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    finally:
        con.close()


def wait_for(check: object, timeout: float, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if proc.poll() is not None:
            raise SystemExit(f"the daemon exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


class Feeds:
    """feedgen.py's feeds behind serve.py (a separate process: its CPU is not counted)."""

    def __init__(self, peers: Path, work: Path, feeds: int, items: int) -> None:
        self.dir = work / "feeds"
        subprocess.run(
            [sys.executable, str(peers / "feedgen.py"), str(self.dir), "-n", str(feeds),
             "-m", str(items), "-k", "1"],
            check=True, capture_output=True,
        )  # fmt: skip
        port_file = work / "http.port"
        self.proc = subprocess.Popen(
            [sys.executable, str(peers / "serve.py"), str(self.dir), "--port-file", str(port_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline:
                raise SystemExit("serve.py did not start")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        self.paths = [p for p in (self.dir / "feeds.txt").read_text().split() if p]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def config(work: Path, feeds: Feeds, interval: float, name: str) -> Path:
    base = yaml.safe_load((REPO / "feeds.yaml").read_text(encoding="utf-8"))
    url = f"http://127.0.0.1:{feeds.port}"
    data = {
        "fetch": {"allow_private_networks": True},
        "sources": [
            {"id": "bench", "name": "Bench feeds", "base_url": url, "poll_interval": interval,
             "jitter": 0.1, "feeds": ["/" + p for p in feeds.paths]},
            # The spiders are loaded as in production: an ORF source crawled once an hour (its
            # listing is not on this server, so its one crawl fails fast and is recorded).
            {"id": "orf", "name": "ORF (bench)", "base_url": url,
             "crawl": {"listing_paths": ["/expert-speak"], "interval": "1h"}},
        ],
        "relevance": base["relevance"],
        "sectors": base["sectors"],
        "alerts": {"dispatch_interval": "1h"},
        "subscribers": [],
    }  # fmt: skip
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def daemon(cfg: Path, db: Path, log_level: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    with log.open("wb") as err:
        return subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "monitor"), "--config", str(cfg), "--db", str(db),
             "--log-level", log_level, "run"],
            stdout=subprocess.DEVNULL, stderr=err, env=env,
        )  # fmt: skip


def rounds(
    proc: subprocess.Popen[bytes], db: Path, feeds: int, count: int, timeout: float
) -> list[tuple[float, float, float]]:
    """(CPU-s, RSS MB, wall s) at the end of each of `count` rounds after the first."""
    wait_for(lambda: fetch_lines(db) >= feeds, timeout, "the first round", proc)
    marks = [(cpu_seconds(proc.pid), memory_mb(proc.pid)[0], time.monotonic())]
    for n in range(2, count + 2):
        wait_for(lambda n=n: fetch_lines(db) >= n * feeds, timeout, f"round {n}", proc)
        marks.append((cpu_seconds(proc.pid), memory_mb(proc.pid)[0], time.monotonic()))
    return marks


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def idle_phase(args: argparse.Namespace, work: Path) -> None:
    feeds = Feeds(args.peers, work, args.feeds, 5)
    try:
        cfg = config(work, feeds, args.interval, "idle")
        db = work / "idle.db"
        proc = daemon(cfg, db, args.log_level, work / "idle.log")
        try:
            marks = rounds(proc, db, args.feeds, args.rounds, timeout=args.interval * 4 + 120)
            rss, hwm = memory_mb(proc.pid)
        finally:
            stop(proc)
    finally:
        feeds.stop()
    per_round = [b[0] - a[0] for a, b in itertools.pairwise(marks)]
    cpu = statistics.median(per_round)
    print(
        f"daemon idle round: {args.feeds} feeds all 304, log level {args.log_level}: "
        f"CPU {cpu:.3f} s per round (median of {len(per_round)}; min {min(per_round):.3f}, "
        f"max {max(per_round):.3f}) = {cpu / args.feeds * 1000:.2f} ms per feed | "
        f"RSS {rss:.1f} MB, peak {hwm:.1f} MB (spiders loaded)"
    )


def soak_phase(args: argparse.Namespace, work: Path) -> None:
    feeds = Feeds(args.peers, work / "soak", args.soak_feeds, 5)
    try:
        cfg = config(work / "soak", feeds, 1, "soak")
        db = work / "soak" / "soak.db"
        proc = daemon(cfg, db, args.log_level, work / "soak.log")
        try:
            marks = rounds(proc, db, args.soak_feeds, args.soak_rounds, timeout=120)
            _, hwm = memory_mb(proc.pid)
        finally:
            stop(proc)
    finally:
        feeds.stop()
    warm = min(100, len(marks) // 10)  # caches and the SQLite page cache fill in the first rounds
    start, end = marks[warm], marks[-1]
    rounds_measured = len(marks) - 1 - warm
    print(
        f"daemon soak: {args.soak_feeds} feeds polled every second, {len(marks) - 1} rounds in "
        f"{end[2] - marks[0][2]:.0f} s: RSS {start[1]:.1f} MB after round {warm + 1} → "
        f"{end[1]:.1f} MB after round {len(marks)} (growth {end[1] - start[1]:+.1f} MB over "
        f"{rounds_measured} rounds), peak {hwm:.1f} MB; CPU "
        f"{(end[0] - start[0]) / max(rounds_measured, 1) * 1000:.1f} ms per round"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6, help="idle rounds measured")
    parser.add_argument("--interval", type=float, default=10.0, help="idle poll interval (s)")
    parser.add_argument("--soak-feeds", type=int, default=20)
    parser.add_argument("--soak-rounds", type=int, default=1000)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--peers", type=Path, default=REPO.parent / "shared" / "peers")
    args = parser.parse_args()
    if not (args.peers / "feedgen.py").exists():
        raise SystemExit(f"no peer harness at {args.peers} (pass --peers DIR)")
    with tempfile.TemporaryDirectory(prefix="daemon-bench-") as tmp:
        work = Path(tmp)
        (work / "soak").mkdir()
        idle_phase(args, work)
        if args.soak_rounds > 0:
            soak_phase(args, work)


if __name__ == "__main__":
    main()
