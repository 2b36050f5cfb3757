"""Several `monitor run` daemons on one PostgreSQL database share the sources and the outbox.

Real processes: three daemons, loopback feeds, a real SMTP server (aiosmtpd) and a database of
the test's own on the machine's PostgreSQL. One daemon is SIGKILLed mid-run.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import signal
import socket
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from tests.conftest import FeedServer, SmtpServer, write_config
from tests.databases import postgres_database
from tests.processes import Stderr, monitor, start, stop, wait_until

SOURCES = 6
LEASE = 3  # seconds: a dead daemon's sources move within this


def rss(server: FeedServer, source: int, items: range) -> str:
    now = datetime.now(UTC)
    entries = "".join(
        f"<item><title>{escape(f'India-Japan semiconductor pact, part {source}-{n}')}</title>"
        f"<link>{server.base_url}/s{source}/story-{n}/</link>"
        f"<guid>{server.base_url}/s{source}/story-{n}/</guid>"
        f"<description>Tokyo and New Delhi agree, step {n}.</description>"
        f"<pubDate>{email.utils.format_datetime(now - timedelta(minutes=n))}</pubDate></item>"
        for n in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>S</title>'
        f"<link>{server.base_url}/</link>{entries}</channel></rss>"
    )


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    except ProgrammingError:
        return []  # the daemons have not created the schema yet
    finally:
        engine.dispose()


def test_three_daemons_share_sources_and_survive_a_kill(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    sources = []
    for s in range(SOURCES):
        feed_server.serve(f"/s{s}/feed/", rss(feed_server, s, range(3)))
        sources.append(
            {"id": f"src{s}", "name": f"Source {s}", "base_url": feed_server.base_url,
             "poll_interval": "1s", "jitter": 0.05, "feeds": [f"/s{s}/feed/"]}
        )  # fmt: skip
    subscriber = {
        "name": "analyst",
        "urls": [smtp_server.mail_url(to="analyst@example.org")],
        "rules": [{"name": "all", "query": "semiconductor"}],
    }
    cfg = write_config(
        tmp_path / "feeds.yaml",
        sources,
        subscribers=[subscriber],
        alerts={"fold_threshold": 1000, "dispatch_interval": "1s", "claim_lease": "10s"},
        daemon={"job_lease": f"{LEASE}s"},
    )
    with postgres_database() as db:
        procs = [start(cfg, db) for _ in range(3)]  # type: ignore[arg-type]
        logs = [Stderr(p) for p in procs]
        try:
            # The first collection of every source is a silent baseline.
            wait_until(lambda: len(rows(db, "SELECT id FROM article")) == SOURCES * 3, 60)
            holders = rows(db, "SELECT job, owner FROM job_lease WHERE job LIKE 'poll:%'")
            assert len({owner for _, owner in holders}) >= 2  # the work is shared
            killed = Counter(owner for _, owner in holders).most_common(1)[0][0]
            killed_at = float("inf")
            for step in range(3, 9):  # one new story per source each second, six times
                for s in range(SOURCES):
                    feed_server.serve(f"/s{s}/feed/", rss(feed_server, s, range(step + 1)))
                if step == 5:  # SIGKILL the daemon holding the most sources, mid-run
                    pid = int(str(killed).split(":")[1])
                    victim = next(p for p in procs if p.pid == pid)
                    victim.send_signal(signal.SIGKILL)
                    victim.wait(timeout=10)
                    killed_at = time.monotonic()
                wait_until(lambda s=step: len(smtp_server.messages) >= SOURCES * (s - 2), 60)
            wait_until(lambda: len(rows(db, "SELECT id FROM article")) == SOURCES * 9, 30)
            status = monitor("status", "--json", config=cfg, db=db)
            table = monitor("status", config=cfg, db=db)
        finally:
            codes = [stop(proc, log) for proc, log in zip(procs, logs, strict=True)]
        assert sorted(codes) == [-signal.SIGKILL, 0, 0], "\n".join(log.text for log in logs)
        articles = rows(db, "SELECT url FROM article")
        sent = rows(db, "SELECT state, message_id FROM delivery")
        taken_over = rows(db, f"SELECT job FROM job_lease WHERE owner = '{killed}'")
    assert len(articles) == len(set(articles)) == SOURCES * 9  # every story stored once
    assert Counter(state for state, _ in sent) == {"suppressed": SOURCES * 3, "sent": SOURCES * 6}
    ids = Counter(m["Message-ID"] for m in smtp_server.messages)
    assert len(ids) == SOURCES * 6  # every new story alerted
    repeats = sum(n - 1 for n in ids.values())
    assert repeats <= 1  # the kill may repeat the message in flight once, same Message-ID
    assert not any(job.startswith("poll:") for (job,) in taken_over)  # its sources moved on
    # `monitor status` names the live daemon running each source.
    alive = {
        f"{socket.gethostname()}:{p.pid}" for p, code in zip(procs, codes, strict=True) if code == 0
    }
    held = {row["held_by"]["poll"] for row in json.loads(status.stdout)}
    assert held and held <= alive
    assert "daemon" in table.stdout and all(h in table.stdout for h in held)
    # No source was polled by two daemons at once: one holder polls it once a second.
    times: dict[str, list[float]] = defaultdict(list)
    for when, path in feed_server.times:
        times[path].append(when)
    # (A dead daemon's sources are taken at once: its last poll may be just before the kill.)
    for path, seen in times.items():
        gaps = [b - a for a, b in itertools.pairwise(seen) if not a < killed_at < b]
        assert min(gaps) > 0.5, (path, min(gaps), [round(t - killed_at, 2) for t in seen])
