"""Benchmark: the web view's search and trends over a large SYNTHETIC database (SQLite, FTS5).

Generates N articles (default 1,000,000) into a fresh database with the monitor's own schema
(FTS5 index and triggers included): three outlets, three years of dates, titles and text drawn
from a fixed vocabulary in which the watched terms are rare or common as in real coverage, one
or two sector tags each. Rows are written with executemany in one transaction, the FTS5 index
rebuilt once at the end. Then it starts the real `monitor web` on it and times, over loopback
HTTP, a set of searches (the rule language, with and without filters, by date and by relevance,
a second page) and the trends page, each several times, and prints p50/p95 per kind, overall,
and the size of each page. The generated file is kept (--db) so a second run skips generation.
Usage: python bench/web_bench.py [--articles 1000000] [--db /tmp/web-bench.db] [--repeat 20]
Prints the figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from storage.db import Database  # noqa: E402

SOURCES = [("japantimes", "The Japan Times"), ("ddnews", "DD News"), ("orf", "ORF")]
SECTORS = ["semiconductors", "critical_minerals", "clean_energy", "digital_ict", "pharma_health",
           "defence_maritime", "space", "infrastructure_rail", "trade_investment",
           "diplomacy_summits"]  # fmt: skip
# (phrase, share of articles holding it, the sector it tags)
TOPICS = [
    ("semiconductor", 0.06, "semiconductors"), ("chip plant", 0.02, "semiconductors"),
    ("rare earth", 0.03, "critical_minerals"), ("lithium", 0.02, "critical_minerals"),
    ("green hydrogen", 0.03, "clean_energy"), ("solar", 0.04, "clean_energy"),
    ("artificial intelligence", 0.04, "digital_ict"), ("5G", 0.02, "digital_ict"),
    ("vaccine", 0.02, "pharma_health"), ("JIMEX", 0.01, "defence_maritime"),
    ("naval exercise", 0.03, "defence_maritime"), ("lunar rover", 0.01, "space"),
    ("Shinkansen", 0.03, "infrastructure_rail"), ("bullet train", 0.02, "infrastructure_rail"),
    ("yen loan", 0.03, "trade_investment"), ("investment", 0.10, "trade_investment"),
    ("summit", 0.08, "diplomacy_summits"), ("Quad", 0.05, "diplomacy_summits"),
]  # fmt: skip
_FILLER_TEXT = (
    "ministry officials said the agreement would expand cooperation between the two countries "
    "over the coming years while partners in the region watched closely as delegations met in "
    "the capital to discuss trade supply chains ports energy security technology students visas "
    "tourism culture and finance"
)
FILLER = _FILLER_TEXT.split()
PLACES = ["Tokyo", "New Delhi", "Mumbai", "Osaka", "Gujarat", "Chennai", "Kyoto", "Bengaluru"]

QUERIES = {
    "one common word": "q=investment",
    "prefix": "q=" + quote("semicon*"),
    "phrase": "q=" + quote('"rare earth"'),
    "AND": "q=" + quote("Shinkansen AND Mumbai"),
    "AND NOT": "q=" + quote('semicon* AND NOT "chip plant"'),
    "OR + AND": "q=" + quote("(semicon* OR lithium) AND Gujarat"),
    "sector filter": "q=summit&sector=diplomacy_summits",
    "source + quarter": "q=" + quote("semicon*") + "&source=ddnews&from={q0}&to={q1}",
    "by relevance": "q=" + quote('"green hydrogen" OR solar') + "&order=relevance",
    "page 5": "q=investment&page=5",
    "no query, sector": "sector=space",
    "rare word": "q=JIMEX",
}


def generate(path: Path, count: int, now: datetime) -> None:
    db = Database(f"sqlite:///{path}")
    db.create_schema()
    db.dispose()
    rng = random.Random(18)
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=OFF")
    # The index is rebuilt once at the end: far faster than a trigger per row.
    triggers = raw.execute("SELECT sql FROM sqlite_master WHERE type='trigger'").fetchall()
    for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        raw.execute(f"DROP TRIGGER {name}")
    raw.execute("BEGIN")
    raw.executemany(
        "INSERT INTO source (id, name, added_at, consecutive_failures) VALUES (?, ?, ?, 0)",
        [(sid, name, now.replace(tzinfo=None)) for sid, name in SOURCES],
    )
    start = now - timedelta(days=3 * 365)
    span = (now - start).total_seconds()
    batch: list[tuple[object, ...]] = []
    tags: list[tuple[object, ...]] = []
    for i in range(1, count + 1):
        chosen = [t for t in TOPICS if rng.random() < t[1]] or [rng.choice(TOPICS)]
        words = rng.choices(FILLER, k=40)
        for phrase, _, _ in chosen:
            words.insert(rng.randrange(len(words)), phrase)
        place = rng.choice(PLACES)
        title = f"India-Japan {chosen[0][0]} talks in {place} ({i})"
        text = " ".join(words) + f". Officials in {place} said."
        when = (start + timedelta(seconds=rng.random() * span)).replace(tzinfo=None)
        source = SOURCES[i % 3][0]
        reason = '{"relevant": true, "text": "SYNTHETIC bench article", "for": [], "against": []}'
        batch.append((i, source, f"https://{source}.example/a/{i}/", f"{i:064x}",
                      f"https://{source}.example/a/{i}/", f"{i:032x}", title, text[:200], text,
                      when, when, "[]", 0.9, reason))  # fmt: skip
        for sector in {s for _, _, s in chosen}:
            tags.append((i, sector, f'["{chosen[0][0]}"]'))
        if len(batch) == 20_000:
            _flush(raw, batch, tags)
            print(f"  generated {i:,} articles", file=sys.stderr, flush=True)
    _flush(raw, batch, tags)
    raw.execute("COMMIT")
    t0 = time.perf_counter()
    raw.execute("INSERT INTO article_fts(article_fts) VALUES ('rebuild')")
    for (sql,) in triggers:
        raw.execute(sql)
    raw.execute("ANALYZE")
    raw.commit()
    raw.close()
    print(f"  FTS5 rebuild and ANALYZE: {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def _flush(
    raw: sqlite3.Connection, batch: list[tuple[object, ...]], tags: list[tuple[object, ...]]
) -> None:
    raw.executemany(
        "INSERT INTO article (id, source_id, url, url_hash, original_url, fingerprint, title, "
        "summary, text, published_at, first_seen_at, categories, relevance, relevance_reason, "
        "published_from_source, ingest_mode) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,1,'backfill')",
        batch,
    )
    raw.executemany("INSERT INTO article_tag (article_id, sector, terms) VALUES (?,?,?)", tags)
    batch.clear()
    tags.clear()


def config(where: Path) -> Path:
    data = yaml.safe_load((REPO / "feeds.yaml").read_text(encoding="utf-8"))
    data["sources"] = [{"id": sid, "name": name, "base_url": f"https://{sid}.example",
                        "feeds": ["/feed/"]} for sid, name in SOURCES]  # fmt: skip
    path = where / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def serve(config_path: Path, db: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config_path), "--db", str(db), "web",
         "--port", "0"],
        stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        m = re.search(r"port=(\d+)", line)
        if m:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, f"http://127.0.0.1:{m.group(1)}"
    raise SystemExit("monitor web did not start")


def timed(url: str) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            body = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:  # a 503: the page's time limit interrupted it
        body, status = exc.read(), exc.code
    return (time.perf_counter() - t0) * 1000, status, len(body)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def figures(times: list[float]) -> str:
    return f"p50 {statistics.median(times):6.1f} ms  p95 {p95(times):6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "web-bench.db")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    if args.db.exists():
        have = sqlite3.connect(args.db).execute("SELECT count(*) FROM article").fetchone()[0]
        if have != args.articles:
            raise SystemExit(f"{args.db} holds {have:,} articles, not {args.articles:,}: remove it")
        print(f"reusing {args.db} ({have:,} articles)")
    else:
        t0 = time.perf_counter()
        generate(args.db, args.articles, now)
        print(f"generated {args.articles:,} articles in {time.perf_counter() - t0:.0f} s; "
              f"{args.db.stat().st_size / 2**20:,.0f} MiB")  # fmt: skip
    quarter = (now - timedelta(days=90)).date().isoformat(), now.date().isoformat()
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = serve(config(Path(tmp)), args.db)
        try:
            run(base, args.repeat, quarter, args.articles)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def run(base: str, repeat: int, quarter: tuple[str, str], count: int) -> None:
    print(f"machine: {os.cpu_count()} cores; each figure over {repeat} requests, loopback HTTP, "
          "one at a time, after one warm-up request")  # fmt: skip
    every: list[float] = []
    newest: list[float] = []
    for kind, params in QUERIES.items():
        url = f"{base}/search?{params.format(q0=quarter[0], q1=quarter[1])}"
        timed(url)
        times, sizes = [], set()
        for _ in range(repeat):
            ms, status, size = timed(url)
            assert status == 200, url
            times.append(ms)
            sizes.add(size)
        every += times
        newest += [] if "relevance" in params else times
        print(f"search {kind:18} p50 {statistics.median(times):6.1f} ms  p95 {p95(times):6.1f} ms"
              f"  page {max(sizes) / 1024:5.1f} KiB")  # fmt: skip
    print(f"search, newest first:     {figures(newest)}  ({len(newest)} requests: every kind "
          "but by relevance)")  # fmt: skip
    print(f"search, all kinds:        {figures(every)}  ({len(every)} requests)")
    api = f"{base}/api/articles?q={quote('semicon*')}&per_page=50"
    times = [timed(api)[0] for _ in range(repeat)]
    print(f"api /api/articles 50/page {figures(times)}")
    feed = f"{base}/feeds/sectors/semiconductors.atom"
    times = [timed(feed)[0] for _ in range(repeat)]
    print(f"atom sector feed (50)     {figures(times)}")
    article = f"{base}/articles/{max(1, count // 2)}"
    ms, _, size = timed(article)
    print(f"article page              {ms:6.1f} ms  page {size / 1024:5.1f} KiB")
    for weeks in (13, 52):
        url = f"{base}/trends?weeks={weeks}"
        timed(url)
        runs = [timed(url) for _ in range(max(5, repeat // 4))]
        times = [r[0] for r in runs]
        statuses = sorted({r[1] for r in runs})
        print(f"trends {weeks:3} weeks           {figures(times)}  page {runs[0][2] / 1024:5.1f} "
              f"KiB  HTTP {statuses}")  # fmt: skip


if __name__ == "__main__":
    main()
