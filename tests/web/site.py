"""A SYNTHETIC stored corpus for the web view's tests, built through the real pipeline, and the
`monitor web` process serving it.

Reads: the shipped feeds.yaml (relevance and sectors). Writes: a feeds.yaml and a SQLite
database under the test's directory; every article below is invented for these tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from monitor.app import build
from monitor.article import Article
from monitor.config import load_config
from monitor.flow import ingest
from storage.db import Database
from storage.sources import sync_sources
from tests.conftest import REPO, write_config
from tests.processes import Stderr, stop

SOURCES = [
    {"id": "japantimes", "name": "The Japan Times", "base_url": "https://www.japantimes.co.jp",
     "feeds": ["/feed/"]},
    {"id": "ddnews", "name": "DD News", "base_url": "https://ddnews.gov.in",
     "feeds": ["/en/feed/"]},
    {"id": "orf", "name": "ORF", "base_url": "https://www.orfonline.org", "feeds": ["/feed/"]},
]  # fmt: skip
SUBSCRIBERS = [
    {
        "name": "analyst-delhi",
        "urls": ["mailtos://monitor:${SMTP_PASS}@smtp.example.org?to=secret-analyst@example.org"],
        "rules": [{"name": "chips", "query": "semicon*"}],
    }
]
HOSTILE_TITLE = '<script>alert("t")</script> India-Japan chip talks \u202egnp.exe'
PACT = (
    "India and Japan signed a semiconductor supply-chain partnership in New Delhi on Monday. "
    "Japanese chipmakers will help build a chip plant in Gujarat, officials of both countries said."
)


@dataclass(frozen=True)
class Corpus:
    config: Path
    db: Path | str  # what --db takes: the SQLite file, or a PostgreSQL URL
    now: datetime
    ids: dict[str, int]  # name given below → stored article id


def _article(
    source: str, slug: str, title: str, text: str, published: datetime, now: datetime
) -> Article:
    base = {"japantimes": "https://www.japantimes.co.jp/news/", "ddnews": "https://ddnews.gov.in/en/",
            "orf": "https://www.orfonline.org/expert-speak/"}[source]  # fmt: skip
    url = f"{base}{slug}/"
    return Article(
        source_id=source, url=url, original_url=url, guid=url, title=title,
        summary=text.split(". ")[0] + ".", text=text, author=None,
        published_at=published, first_seen_at=now,
    )  # fmt: skip


def build_corpus(where: Path, url: str | None = None) -> Corpus:
    """The corpus in a SQLite file under `where`, or in the (empty) database at `url`."""
    now = datetime.now(UTC).replace(microsecond=0)
    config_path = write_config(where / "feeds.yaml", SOURCES, subscribers=SUBSCRIBERS)
    config = load_config(config_path).config
    db_path = where / "monitor.db"
    db = Database(url or f"sqlite:///{db_path}")
    db.create_schema()
    with db.write() as conn:
        sync_sources(conn, [(s["id"], s["name"], []) for s in SOURCES], now)
    app = build(config, db, now=lambda: now)
    day = timedelta(days=1)
    batches = {
        "japantimes": [
            ("pact-jt", "India-Japan semiconductor pact signed in New Delhi", PACT, now - 3 * day),
            ("hostile", HOSTILE_TITLE,
             "India-Japan talks on semiconductors: <img src=x onerror=alert(1)> was in the page.",
             now - 2 * day),
        ],
        "ddnews": [
            ("pact-dd", "India-Japan semiconductor pact signed in New Delhi", PACT,
             now - 3 * day + timedelta(hours=2)),
            ("rail", "India-Japan Shinkansen high-speed rail corridor reaches Surat",
             "The Mumbai-Ahmedabad high-speed rail project, built with Japanese Shinkansen "
             "technology, reached Surat, India's railway ministry and Japan's JICA said.",
             now - 20 * day),
        ],
        "orf": [
            ("minerals", "India-Japan critical minerals cooperation deepens",
             "India and Japan agreed to cooperate on rare earth processing and lithium, "
             "the two governments said after talks in Tokyo.", now - 10 * day),
        ],
    }  # fmt: skip
    batches["orf"] += space_items(now)
    ids: dict[str, int] = {}
    for source, items in batches.items():
        arts = [_article(source, slug, title, text, when, now) for slug, title, text, when in items]
        outcome = ingest(app, source, arts, now)
        for row_id, stored in outcome.new:
            ids[stored.url.rstrip("/").rsplit("/", 1)[1]] = row_id
    missing = {slug for items in batches.values() for slug, *_ in items} - set(ids)
    assert not missing, f"the SYNTHETIC corpus lost {missing} in the pipeline"
    # A row as a hostile feed could leave it: a javascript: link (the pipeline refuses these,
    # so it is written directly; the view must not trust the database either).
    with db.write() as conn:
        conn.execute(
            text("UPDATE article SET url = 'javascript:alert(1)' WHERE id = :id"),
            {"id": ids["hostile"]},
        )
    db.dispose()
    return Corpus(config_path, url or db_path, now, ids)


def this_monday(now: datetime) -> datetime:
    today = now.replace(hour=0, minute=0, second=0)
    return today - timedelta(days=today.weekday())


def space_items(now: datetime) -> list[tuple[str, str, str, datetime]]:
    """Space coverage for the trends: one piece in each of weeks -6, -5 and -4 (on Wednesday),
    then four last week (its Monday): a spike, whatever day the tests run."""
    monday = this_monday(now)
    text = (
        "ISRO and JAXA said the India-Japan lunar polar exploration mission's rover passed "
        "its tests in Bengaluru and Tokyo."
    )
    quiet = [monday - timedelta(weeks=w) + timedelta(days=2, hours=12) for w in (6, 5, 4)]
    busy = [monday - timedelta(weeks=1) + timedelta(hours=9 + h) for h in range(4)]
    return [
        (f"lupex-{i}", f"India-Japan lunar mission LUPEX: update {i}", text, when)
        for i, when in enumerate(quiet + busy, 1)
    ]


class WebProcess:
    """`monitor web --port 0` on a corpus, as an analyst starts it."""

    def __init__(self, corpus: Corpus, *args: str, **env: str) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        environment.update(env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(corpus.config), "--db",
             str(corpus.db), "web", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment, cwd=REPO,
        )  # fmt: skip
        self.log = Stderr(self.proc)
        found = self.log.wait_for(r'msg="web view listening".* port=(\d+)')
        self.port = int(found.group(1))
        self.base = f"http://127.0.0.1:{self.port}"

    def close(self) -> int:
        return stop(self.proc, self.log)
