"""Benchmark: 1, 2 and 3 daemons on one PostgreSQL database (and one on SQLite) against 1,000
loopback feeds and 10,000 subscriber rules.

SYNTHETIC feeds (../shared/peers/feedgen.py) served from this process with ETag/304, split into
sources of 50 feeds; 1,000 subscribers with 10 rules each (two subscribers' rules match every
item, the rest look for words that never occur), mail received here by aiosmtpd. For each setup:
  capacity: polls every second, nothing new: feed rounds per minute and CPU-s per round (all
            daemons together);
  news:     every feed gains one item, R times: deliveries per second from the change to the last
            "sent", p50/p99 publish→alert (the feed's change to the delivery's sent_at).
Usage: python bench/scale_bench.py [--setups sqlite:1,pg:1,pg:2,pg:3] [--rounds 3]
       [--pg postgresql://postgres@127.0.0.1:5432/test]
Prints one line per setup; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from alert_bench import FeedServer, Sink, generate, pct, switch
from daemon_bench import cpu_seconds, stop

REPO = Path(__file__).resolve().parent.parent
PER_SOURCE = 50
SENT = "SELECT count(*) FROM delivery WHERE state = 'sent'"


def config(work: Path, port: int, paths: list[str], sink: int, rules: int) -> Path:
    base = yaml.safe_load((REPO / "feeds.yaml").read_text(encoding="utf-8"))
    sources = [
        {"id": f"bench-{i // PER_SOURCE:03d}", "name": f"Bench {i // PER_SOURCE}",
         "base_url": f"http://127.0.0.1:{port}", "poll_interval": 1, "jitter": 0.1,
         "feeds": ["/" + p for p in paths[i : i + PER_SOURCE]]}
        for i in range(0, len(paths), PER_SOURCE)
    ]  # fmt: skip
    mail = f"mailto://127.0.0.1:{sink}?from=m@bench.invalid&to=r@bench.invalid"
    subscribers = []
    for n in range(rules // 10):
        queries = ["India OR Japan"] * 10 if n < 2 else [f"zzqx{n}w{k}" for k in range(10)]
        subscribers.append(
            {"name": f"sub-{n:04d}", "urls": [mail],
             "rules": [{"name": f"r{k}", "query": q} for k, q in enumerate(queries)]}
        )  # fmt: skip
    data = {
        "fetch": {"allow_private_networks": True},
        "sources": sources,
        "relevance": base["relevance"],
        "sectors": base["sectors"],
        "alerts": {"max_age": "30d", "dispatch_interval": "1s", "fold_threshold": 5},
        "daemon": {"job_lease": "10s"},
        "subscribers": subscribers,
    }
    path = work / "scale.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def scalar(url: str, sql: str) -> Any:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    except Exception:
        return None  # the schema is not there yet
    finally:
        engine.dispose()


def latencies(url: str, since: datetime, changed: datetime) -> list[float]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT sent_at FROM delivery WHERE state = 'sent' AND created_at >= :s"),
                {"s": since.replace(tzinfo=None) if url.startswith("sqlite") else since},
            ).scalars()
            sent = [r if isinstance(r, datetime) else datetime.fromisoformat(str(r)) for r in rows]
    finally:
        engine.dispose()
    return [(s.replace(tzinfo=UTC) - changed).total_seconds() for s in sent]


def wait(check: Any, timeout: float, what: str, procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a daemon exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def setup_run(args: argparse.Namespace, work: Path, kind: str, daemons: int) -> str:
    label = f"{kind}:{daemons}"
    out = work / label.replace(":", "-")
    paths = generate(args.peers, out, args.feeds, 5, 1, args.rounds + 1)
    server, sink = FeedServer(out), Sink()
    cfg = config(work, server.port, paths, sink.port, args.rules)
    if kind == "sqlite":
        url = f"sqlite:///{out / 'monitor.db'}"
        drop = None
    else:
        name = "scale_" + secrets.token_hex(4)
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = args.pg.rsplit("/", 1)[0] + "/" + name
        drop = (admin, name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    procs = []
    for n in range(daemons):
        with (out / f"daemon{n}.log").open("wb") as err:
            procs.append(subprocess.Popen(
                [str(REPO / ".venv" / "bin" / "monitor"), "--config", str(cfg), "--db", url,
                 "--log-level", "WARNING", "run"],
                stdout=subprocess.DEVNULL, stderr=err, env=env,
            ))  # fmt: skip
        if n == 0:
            time.sleep(3)  # the first daemon creates the schema; the rest join it
    try:
        feeds = args.feeds
        wait(lambda: (scalar(url, "SELECT count(*) FROM fetch_log") or 0) >= feeds, 300,
             "the baseline round", procs)  # fmt: skip
        time.sleep(5)
        start_lines = scalar(url, "SELECT count(*) FROM fetch_log")
        cpu0, t0 = sum(cpu_seconds(p.pid) for p in procs), time.monotonic()
        time.sleep(args.capacity)
        lines = scalar(url, "SELECT count(*) FROM fetch_log") - start_lines
        cpu, elapsed = sum(cpu_seconds(p.pid) for p in procs) - cpu0, time.monotonic() - t0
        rounds = lines / feeds
        capacity = (
            f"{rounds / elapsed * 60:.1f} rounds/min, {cpu / max(rounds, 1e-9):.2f} CPU-s/round"
        )
        lat: list[float] = []
        rates: list[float] = []
        expected = 0
        for number in range(2, args.rounds + 2):
            since = datetime.now(UTC)
            server.reset()
            switch(args.peers, out, number)
            expected += feeds * 2  # two subscribers match every new item
            wait(lambda e=expected: (scalar(url, SENT) or 0) >= e, 600, "the alerts", procs)
            done = time.monotonic()
            assert server.changed_at is not None
            # the feed server's monotonic clock, as a wall-clock time comparable with sent_at
            changed = datetime.now(UTC) - timedelta(seconds=time.monotonic() - server.changed_at)
            rates.append(feeds * 2 / (done - server.changed_at))
            lat += latencies(url, since, changed)
        messages = sink.count()
    finally:
        for p in procs:
            stop(p)
        server.close()
        sink.close()
        if drop is not None:
            admin, name = drop
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return (
        f"{label}: {capacity}; news: {sum(rates) / len(rates):.0f} deliveries/s, publish→alert "
        f"p50 {pct(lat, 0.5):.1f} s, p99 {pct(lat, 0.99):.1f} s over {len(lat)} deliveries "
        f"({messages} messages: fold_threshold 5 folds a subscriber's burst)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setups", default="sqlite:1,pg:1,pg:2,pg:3")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--capacity", type=float, default=30.0, help="seconds measured")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--peers", type=Path, default=REPO.parent / "shared" / "peers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        for item in args.setups.split(","):
            kind, count = item.split(":")
            print(setup_run(args, Path(tmp), kind, int(count)), flush=True)


if __name__ == "__main__":
    main()
