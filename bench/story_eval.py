"""Benchmark: story clustering against the labelled set in bench/data/stories/.

Reads the SYNTHETIC events (tune.yaml, heldout1-3.yaml; README.md there is the labelling
guide and says which part is which),
stores each part's articles in publication order through the real flow (relevance, sectors,
storage, story assignment) into a fresh SQLite file, and prints pair precision and recall, how
often each kind of hard negative was merged, and, with --errors, every wrong pair with the
evidence the decision was stored with.
Usage: python bench/story_eval.py [--part tune|heldout1|heldout2|heldout3|all] [--errors] [--json]
[--join-at X] [--thread-at Y]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.app import build  # noqa: E402
from monitor.article import Article  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.flow import ingest  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.sources import sync_sources  # noqa: E402

DATA = REPO / "bench" / "data" / "stories"
# tune: read while tuning; heldoutN: written before round N's changes, scored once at its end,
# then read (a tuning part of the rounds after it). README.md there has each round's figures.
PARTS = {name: DATA / f"{name}.yaml" for name in ("tune", "heldout1", "heldout2", "heldout3")}
START = datetime(2026, 1, 5, tzinfo=UTC)  # hours in the files count from here
OUTLETS = {"jt": "The Japan Times", "dd": "DD News", "orf": "ORF"}


@dataclass
class Labelled:
    n: int
    event: str
    thread: str
    outlet: str
    article: Article
    stored: bool = False
    evidence: str = ""


def load(part: str) -> list[Labelled]:
    data = yaml.safe_load(PARTS[part].read_text(encoding="utf-8"))
    assert data.get("synthetic") is True, f"{part}: not marked synthetic"
    out: list[Labelled] = []
    for event in data["events"]:
        for a in event["articles"]:
            n = len(out) + 1
            at = START + timedelta(hours=float(a["hours"]))
            url = f"https://{a['outlet']}.example/{part}/{n}/"
            article = Article(
                source_id=a["outlet"], url=url, original_url=url, guid=None,
                title=a["title"], summary=a["summary"], text="", author=None,
                published_at=at, first_seen_at=at + timedelta(minutes=30),
            )  # fmt: skip
            out.append(Labelled(n, event["id"], event["thread"], a["outlet"], article))
    return out


def cluster(items: list[Labelled], join_at: float | None, thread_at: float | None) -> None:
    """Store the items one by one, oldest first, as the live flow would meet them."""
    loaded = load_config(REPO / "feeds.yaml").config
    stories = loaded.stories.model_copy(
        update={k: v for k, v in (("join_at", join_at), ("thread_at", thread_at)) if v}
    )
    config = loaded.model_copy(update={"stories": stories, "subscribers": []})
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/eval.db")
        db.create_schema()
        with db.write() as conn:
            sync_sources(conn, [(k, v, []) for k, v in OUTLETS.items()])
        for item in sorted(items, key=lambda i: i.article.published_at):
            now = item.article.first_seen_at
            app = build(config, db, now=lambda now=now: now)  # type: ignore[misc]
            outcome = ingest(app, item.outlet, [item.article], now)
            item.stored = bool(outcome.new)
        from storage.models import story_article_table as sa

        with db.read() as conn:
            evidence = {row.article_id: row.evidence for row in conn.execute(sa.select())}
        db.dispose()
    # Article ids follow the insertion order of stored items.
    stored = [i for i in sorted(items, key=lambda i: i.article.published_at) if i.stored]
    for article_id, item in enumerate(stored, start=1):
        item.evidence = str(evidence.get(article_id, {}).get("text", ""))


def kind(a: Labelled, b: Labelled) -> str:
    if a.event == b.event:
        return "same story"
    if a.thread == b.thread:
        return "same thread, new development"
    hours = abs((a.article.published_at - b.article.published_at).total_seconds()) / 3600
    if hours <= 48:
        return "unrelated, same days"
    return "unrelated"


def score(items: list[Labelled]) -> dict[str, Any]:
    stored = [i for i in items if i.stored]
    pairs = list(itertools.combinations(stored, 2))
    counts: dict[str, list[int]] = {}  # kind → [pairs, put in one story]
    wrong: list[tuple[str, Labelled, Labelled]] = []
    tp = fp = fn = 0
    for a, b in pairs:
        label = kind(a, b)
        merged = a.article.story == b.article.story
        counts.setdefault(label, [0, 0])
        counts[label][0] += 1
        counts[label][1] += merged
        positive = label == "same story"
        tp += merged and positive
        fp += merged and not positive
        fn += positive and not merged
        if merged != positive:
            wrong.append(("merged" if merged else "split", a, b))
    return {
        "articles": len(items),
        "stored": len(stored),
        "not_stored": [f"{i.n} {i.article.title}" for i in items if not i.stored],
        "events": len({i.event for i in items}),
        "stories": len({i.article.story for i in stored}),
        "pairs": len(pairs),
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "by_kind": {k: {"pairs": v[0], "in_one_story": v[1]} for k, v in sorted(counts.items())},
        "wrong": [
            {
                "what": what,
                "kind": kind(a, b),
                "a": f"[{a.outlet} {a.event}] {a.article.title}",
                "a_evidence": a.evidence,
                "b": f"[{b.outlet} {b.event}] {b.article.title}",
                "b_evidence": b.evidence,
            }
            for what, a, b in wrong
        ],
    }


def margins(items: list[Labelled], top: int = 8) -> None:
    """The closest calls: the best-scoring pairs that are not one story, the worst that are."""
    from monitor.app import clusterer
    from monitor.judge.stories import compare

    config = load_config(REPO / "feeds.yaml").config
    stories = clusterer(config)
    feats = {i.n: stories.features(i.article) for i in items if i.stored}
    rows = []
    for a, b in itertools.combinations([i for i in items if i.stored], 2):
        e = compare(feats[a.n], feats[b.n], 0, stories.settings)
        rows.append((kind(a, b), e, a, b))
    negatives = sorted((r for r in rows if r[0] != "same story"), key=lambda r: -r[1].score)
    positives = sorted((r for r in rows if r[0] == "same story"), key=lambda r: r[1].score)
    for title, chosen in (
        ("closest negatives", negatives[:top]),
        ("weakest positives", positives[:top]),
    ):
        print(f"   -- {title}")
        for label, e, a, b in chosen:
            print(
                f"     {e.score:.2f} joined={e.joined} {label}: [{a.outlet} {a.event}] x "
                f"[{b.outlet} {b.event}] names={','.join(e.names)} sim={e.similarity:.2f} "
                f"fig={','.join(e.numbers)} sector={e.same_sector} {e.hours:.0f}h"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--errors", action="store_true", help="print every wrong pair")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--join-at", type=float, default=None, help="try another stories.join_at")
    parser.add_argument("--thread-at", type=float, default=None)
    parser.add_argument("--margins", action="store_true", help="print the closest calls")
    args = parser.parse_args()
    parts = list(PARTS) if args.part == "all" else [args.part]
    results = {}
    for part in parts:
        items = load(part)
        cluster(items, args.join_at, args.thread_at)
        results[part] = score(items)
        if args.margins:
            print(f"== {part}")
            margins(items)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for part, r in results.items():
        print(f"== {part}: {r['articles']} articles ({r['stored']} stored), {r['events']} events, "
              f"{r['stories']} stories, {r['pairs']} pairs")  # fmt: skip
        print(f"   pair precision {r['precision']:.3f}   pair recall {r['recall']:.3f}")
        for k, v in r["by_kind"].items():
            print(f"   {k:<30} {v['pairs']:>5} pairs, {v['in_one_story']:>4} put in one story")
        for title in r["not_stored"]:
            print(f"   not stored (judged not India–Japan): {title}")
        if args.errors:
            for w in r["wrong"]:
                print(f"   {w['what'].upper()} ({w['kind']})")
                for side in ("a", "b"):
                    print(f"     {w[side]}\n       {w[side + '_evidence']}")


if __name__ == "__main__":
    main()
