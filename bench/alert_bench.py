"""Benchmark: publish→alert latency inside the running daemon, and how fast a burst goes out.

Serves SYNTHETIC feeds (../shared/peers/feedgen.py) from a small ETag/304 server in this process,
runs the real `monitor run` with one subscriber whose rule matches every item, and receives the
mail with aiosmtpd here too. A message's latency is the time from the server handing out the
round's first changed feed (the poll that sees the items) to the SMTP server receiving the
message; both clocks are this process's monotonic clock, and the daemon's CPU is read from /proc.
  round: F feeds × K new items per round (default 10 × 2 = 20 alerts), R rounds: p50/p99;
  burst: one round of B feeds × K (default 200 × 2 = 400 alerts): p50/p99 and messages/s.
Usage: python bench/alert_bench.py [--rounds 10] [--parallel-sends 4] [--peers DIR]
Prints one line per phase; nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon_bench import cpu_seconds, stop

REPO = Path(__file__).resolve().parent.parent


class FeedServer:
    """OUTDIR/current/* with strong ETags and 304s; notes when a changed body is first served."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        self.etags: dict[str, str] = {}  # path → the ETag last served with a 200
        self.changed_at: float | None = None  # the first 200 of a changed body since reset()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                try:
                    body = (server.root / self.path.lstrip("/")).resolve().read_bytes()
                except OSError:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                with server.lock:
                    if server.etags.get(self.path) not in (None, etag):
                        server.changed_at = server.changed_at or time.monotonic()
                    server.etags[self.path] = etag
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.changed_at = None

    def close(self) -> None:
        self.httpd.shutdown()


class Sink:
    """aiosmtpd recording when each message arrived."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.arrivals: list[float] = []
        self.lock = threading.Lock()
        sock = __import__("socket").socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.arrivals.append(time.monotonic())
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def close(self) -> None:
        self.controller.stop()


def generate(peers: Path, out: Path, feeds: int, items: int, new: int, phases: int) -> list[str]:
    subprocess.run(
        [sys.executable, str(peers / "feedgen.py"), str(out), "-n", str(feeds), "-m", str(items),
         "-k", str(new), "-p", str(phases)],
        check=True, capture_output=True,
    )  # fmt: skip
    return [p for p in (out / "feeds.txt").read_text().split() if p]


def switch(peers: Path, out: Path, phase: int) -> None:
    subprocess.run(
        [sys.executable, str(peers / "feedgen.py"), str(out), "--switch", str(phase)],
        check=True,
        capture_output=True,
    )


def config(work: Path, port: int, paths: list[str], sink: int, parallel: int) -> Path:
    base = yaml.safe_load((REPO / "feeds.yaml").read_text(encoding="utf-8"))
    data = {
        "fetch": {"allow_private_networks": True},
        "sources": [
            {"id": "bench", "name": "Bench feeds", "base_url": f"http://127.0.0.1:{port}",
             "poll_interval": 2, "jitter": 0.1, "feeds": ["/" + p for p in paths]},
        ],
        "relevance": base["relevance"],
        "sectors": base["sectors"],
        "alerts": {"fold_threshold": 100000, "max_age": "30d", "parallel_sends": parallel,
                   "dispatch_interval": "1h"},
        "subscribers": [
            {"name": "bench", "urls": [f"mailto://127.0.0.1:{sink}?from=m@bench.invalid"
                                       "&to=r@bench.invalid"],
             "rules": [{"name": "all", "query": "India OR Japan"}]},
        ],
    }  # fmt: skip
    path = work / "bench.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def wait(check: Any, timeout: float, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            raise SystemExit(f"the daemon exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def phase(
    args: argparse.Namespace, work: Path, feeds: int, rounds: int, label: str
) -> tuple[list[float], list[float], float, float]:
    """Latencies of every message, per-round send spans, daemon CPU and messages."""
    out = work / label
    paths = generate(args.peers, out, feeds, 20, args.new, rounds + 1)
    server, sink = FeedServer(out), Sink()
    cfg = config(work, server.port, paths, sink.port, args.parallel_sends)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    db = work / f"{label}.db"
    with (work / f"{label}.log").open("wb") as err:
        proc = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "monitor"), "--config", str(cfg), "--db", str(db),
             "--log-level", "WARNING", "run"],
            stdout=subprocess.DEVNULL, stderr=err, env=env,
        )  # fmt: skip
    latencies: list[float] = []
    spans: list[float] = []
    cpu = 0.0
    try:
        wait(lambda: len(server.etags) >= feeds, 120, "the first (baseline) round", proc)
        time.sleep(3)  # the baseline round stores silently; let it finish
        expected = 0
        for number in range(2, rounds + 2):
            server.reset()
            before = cpu_seconds(proc.pid)
            start = sink.count()
            switch(args.peers, out, number)
            expected += feeds * args.new
            wait(lambda e=expected: sink.count() >= e, 120, f"{label} round {number}", proc)
            cpu += cpu_seconds(proc.pid) - before
            assert server.changed_at is not None
            arrived = sink.arrivals[start:expected]
            latencies += [t - server.changed_at for t in arrived]
            spans.append(max(arrived) - min(arrived))
        time.sleep(1)
        if sink.count() != expected:
            raise SystemExit(f"{label}: {sink.count()} messages for {expected} new items")
    finally:
        stop(proc)
        server.close()
        sink.close()
    return latencies, spans, cpu, float(expected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds of the round phase")
    parser.add_argument("--round-feeds", type=int, default=10)
    parser.add_argument("--burst-feeds", type=int, default=200)
    parser.add_argument("--new", type=int, default=2, help="new items per feed per round")
    parser.add_argument("--parallel-sends", type=int, default=4)
    parser.add_argument("--peers", type=Path, default=REPO.parent / "shared" / "peers")
    args = parser.parse_args()
    if not (args.peers / "feedgen.py").exists():
        raise SystemExit(f"no peer harness at {args.peers} (pass --peers DIR)")
    with tempfile.TemporaryDirectory(prefix="alert-bench-") as tmp:
        work = Path(tmp)
        lat, _, cpu, sent = phase(args, work, args.round_feeds, args.rounds, "round")
        print(
            f"alert latency, rounds of {args.round_feeds * args.new} new alerts × {args.rounds}: "
            f"p50 {pct(lat, 0.5):.3f} s, p99 {pct(lat, 0.99):.3f} s, max {max(lat):.3f} s "
            f"(from the poll's first changed feed to the SMTP server); daemon CPU "
            f"{cpu / sent * 1000:.1f} ms per alert (poll included)"
        )
        lat, spans, cpu, sent = phase(args, work, args.burst_feeds, 1, "burst")
        print(
            f"alert burst of {int(sent)} in one round (parallel_sends {args.parallel_sends}): "
            f"{sent / spans[0]:.0f} messages/s first to last, {sent / max(lat):.0f} messages/s "
            f"from the poll; p50 {pct(lat, 0.5):.2f} s, p99 {pct(lat, 0.99):.2f} s; daemon CPU "
            f"{cpu / sent * 1000:.1f} ms per alert (poll included); median gap "
            f"{statistics.median(spans) / sent * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
