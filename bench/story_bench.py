"""Benchmark: the cost of story clustering on the ingest path, with a backlog of open stories.

Reads nothing; builds synthetic articles (names drawn from a pool with a few very common ones,
as leaders are; words from a vocabulary; figures) and prints, for each backlog size, articles
per second on one core for (1) the decision alone (features, candidate lookup, comparison,
adding it to the open stories) and (2) storage/stories.py assign() in SQLite write transactions
of 20 articles (story rows and evidence written; the articles themselves are inserted before
the clock starts). Usage: python bench/story_bench.py [--backlog N ...] [--articles N]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.app import clusterer  # noqa: E402
from monitor.article import Article  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.judge.stories import Clusterer  # noqa: E402
from storage import articles as store  # noqa: E402
from storage import stories  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.sources import sync_sources  # noqa: E402

START = datetime(2026, 1, 5, tzinfo=UTC)
WINDOW_HOURS = 48


def vocabulary(rng: random.Random, n: int, capital: bool) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(n)]
    return [w.capitalize() for w in words] if capital else words


class Maker:
    """Articles about random events, 3–7 names each: eight "leaders" take a quarter of all
    name draws (each is in about one article in six, as Modi or Takaichi are on this beat),
    the rest follow Zipf's law over 3,000 names; 40 % of sentences carry a figure."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.names = vocabulary(self.rng, 3000, capital=True)
        self.leaders = vocabulary(self.rng, 8, capital=True)
        self.cum = list(itertools.accumulate(1 / (k + 1) for k in range(len(self.names))))
        self.words = vocabulary(self.rng, 5000, capital=False)
        self.n = 0

    def name(self) -> str:
        if self.rng.random() < 0.25:
            return self.rng.choice(self.leaders)
        return self.rng.choices(self.names, cum_weights=self.cum)[0]

    def article(self, hours: float) -> Article:
        rng = self.rng
        self.n += 1
        names = [self.name() for _ in range(rng.randint(3, 7))]
        sentences = []
        for _ in range(rng.randint(4, 9)):
            body = [rng.choice(self.words) for _ in range(rng.randint(10, 22))]
            body.insert(rng.randrange(1, len(body)), rng.choice(names))
            if rng.random() < 0.4:
                body.insert(rng.randrange(1, len(body)), str(rng.randint(2, 999)))
            sentences.append("The " + " ".join(body) + ".")
        title = " ".join([rng.choice(names), *rng.sample(self.words, 7)])
        url = f"https://bench.example/{self.n}/"
        at = START + timedelta(hours=hours)
        return Article(
            source_id="bench", url=url, original_url=url, guid=None, title=title,
            summary=" ".join(sentences[:2]), text=" ".join(sentences), author=None,
            published_at=at, first_seen_at=at,
        )  # fmt: skip


def decision_rate(stories_: Clusterer, maker: Maker, backlog: int, count: int) -> float:
    """Articles per second for features + decide + add, with `backlog` open stories."""
    index = stories_.index
    index.reset(-1e18, 1e18)
    for i in range(backlog):
        a = maker.article(WINDOW_HOURS * i / backlog)
        index.add(i + 1, i + 1, a.published_at.timestamp(), stories_.features(a))
    fresh = [maker.article(WINDOW_HOURS + i / count) for i in range(count)]
    started = time.process_time()
    for n, article in enumerate(fresh):
        feats = stories_.features(article)
        evidence = stories_.index.decide(feats)
        story = evidence.story if evidence.joined and evidence.story else backlog + n + 1
        index.add(story, story, feats.published, feats)
    return count / (time.process_time() - started)


def assign_rate(stories_: Clusterer, maker: Maker, backlog: int, count: int) -> float:
    """Articles per second for storage/stories.py assign() in batches of 20."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.create_schema()
        with db.write() as conn:
            sync_sources(conn, [("bench", "Bench", [])])
            old = [maker.article(WINDOW_HOURS * i / backlog) for i in range(backlog)]
            stories.assign(conn, stories_, store.insert_articles(conn, old), START)
        fresh = [maker.article(WINDOW_HOURS + i / count) for i in range(count)]
        stories_.index.reset(0, 0)  # a process that starts now: it reads the backlog first
        spent = 0.0
        for start in range(0, count, 20):
            with db.write() as conn:
                new = store.insert_articles(conn, fresh[start : start + 20])
                now = fresh[start].published_at
                began = time.process_time()
                stories.assign(conn, stories_, new, now)
                spent += time.process_time() - began
        db.dispose()
    return count / spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, nargs="*", default=[100, 1000, 5000])
    parser.add_argument("--articles", type=int, default=2000)
    args = parser.parse_args()
    config = load_config(REPO / "feeds.yaml").config
    print(f"open stories in a {WINDOW_HOURS} h window; {args.articles} new articles each; "
          "CPU time of one core")  # fmt: skip
    for backlog in args.backlog:
        decided = decision_rate(clusterer(config), Maker(backlog), backlog, args.articles)
        stored = assign_rate(clusterer(config), Maker(backlog), backlog, args.articles)
        print(f"backlog {backlog:>6}: decision {decided:>8,.0f} articles/s   "
              f"assign() with SQLite writes {stored:>7,.0f} articles/s")  # fmt: skip


if __name__ == "__main__":
    main()
