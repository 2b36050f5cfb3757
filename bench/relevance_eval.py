"""Benchmark: relevance and sector tagging against the labelled set in bench/data/relevance/.

Reads the SYNTHETIC items (tuning.yaml, heldout1.yaml, heldout2.yaml, heldout.yaml; GUIDE.md says
how they are labelled and which part is which) and prints precision, recall and F1 of relevance
overall, per outlet and per class, and sector precision/recall/F1, for three judges side by side:
the naive "text names India and Japan", the rule shipped before issue 13 (legacy.yaml) and the
model in feeds.yaml; then the wrong items with the model's reason, and the judging step's
throughput on one core.
Usage: python bench/relevance_eval.py [--part tuning|heldout1|heldout2|heldout|all] [--errors]
[--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.article import Article  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.judge.sort import Judge  # noqa: E402
from monitor.judge.terms import Hit, TermMatcher  # noqa: E402

DATA = REPO / "bench" / "data" / "relevance"
# tuning: read while building the model; heldout1, heldout2: the held-out parts of rounds 1 and 2,
# each scored once on its round's frozen model, then read (more tuning parts); heldout: written
# after the last freeze.
PARTS = {
    "tuning": DATA / "tuning.yaml",
    "heldout1": DATA / "heldout1.yaml",
    "heldout2": DATA / "heldout2.yaml",
    "heldout": DATA / "heldout.yaml",
    "heldout4": DATA / "heldout4.yaml",
}
NOW = datetime(2000, 1, 1, tzinfo=UTC)  # the judge never reads dates
NAIVE_INDIA = re.compile(r"\bIndia(n|ns)?\b", re.IGNORECASE)
NAIVE_JAPAN = re.compile(r"\bJapan(ese)?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Item:
    id: str
    part: str
    source: str
    cls: str
    label: str
    sectors: frozenset[str]
    primary: str | None
    title: str
    summary: str
    text: str
    page: str

    def article(self, *, page: bool = False) -> Article:
        return Article(
            source_id=self.source,
            url=f"https://example.org/{self.id}",
            original_url=f"https://example.org/{self.id}",
            guid=None,
            title=self.title,
            summary=self.summary,
            text=self.page if page else self.text,
            author=None,
            published_at=NOW,
            first_seen_at=NOW,
        )


def load(parts: Iterable[str]) -> list[Item]:
    items: list[Item] = []
    for part in parts:
        path = PARTS[part]
        if not path.exists():
            continue
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            items.append(
                Item(
                    id=raw["id"],
                    part=part,
                    source=raw["source"],
                    cls=raw["class"],
                    label=raw["label"],
                    sectors=frozenset(raw.get("sectors") or ()),
                    primary=raw.get("primary"),
                    title=raw["title"],
                    summary=raw.get("summary") or "",
                    text=raw.get("text") or "",
                    page=raw.get("page") or "",
                )
            )
    return items


# --- the three judges ----------------------------------------------------------------------


@dataclass
class Outcome:
    relevant: bool
    sectors: frozenset[str] = frozenset()
    primary: str | None = None
    reason: str = ""


def naive(item: Item) -> Outcome:
    """What the flow would see (the feed entry for DD News) names India and Japan."""
    article = item.article()
    text = " ".join((article.title, article.summary, article.text))
    return Outcome(bool(NAIVE_INDIA.search(text) and NAIVE_JAPAN.search(text)))


class Legacy:
    """The rule before issue 13: a bilateral term, or India/Japan terms within near_words;
    every sector with one term hit. Judged on what the flow saw (DD: the feed entry)."""

    def __init__(self) -> None:
        data = yaml.safe_load((DATA / "legacy.yaml").read_text(encoding="utf-8"))
        rel = data["relevance"]
        groups = {g: rel[g] for g in ("india", "japan", "bilateral")}
        groups.update({f"sector:{k}": v["terms"] for k, v in data["sectors"].items()})
        self.matcher = TermMatcher(groups)
        self.near = int(rel["near_words"])

    def relevant(self, hits: list[Hit]) -> bool:
        if any(h.group == "bilateral" for h in hits):
            return True
        india = [h.word for h in hits if h.group == "india"]
        japan = [h.word for h in hits if h.group == "japan"]
        return bool(india and japan) and min(abs(a - b) for a in india for b in japan) <= (
            self.near
        )

    def __call__(self, item: Item) -> Outcome:
        a = item.article()
        hits = self.matcher.find((("title", a.title), ("summary", a.summary), ("text", a.text)))
        # Sectors as the old tagger gave them for the text that is finally stored.
        stored = item.article(page=bool(item.page))
        tag_hits = self.matcher.find(
            (("title", stored.title), ("summary", stored.summary), ("text", stored.text))
        )
        sectors = frozenset(
            h.group.removeprefix("sector:") for h in tag_hits if h.group.startswith("sector:")
        )
        return Outcome(self.relevant(hits), sectors)


class Model:
    """The shipped model, with enrichment before judging for sources that need it: an entry
    without text that is plausibly relevant is judged on its page."""

    def __init__(self) -> None:
        self.config = load_config(REPO / "feeds.yaml").config
        self.judge = Judge(self.config)

    def __call__(self, item: Item) -> Outcome:
        article = item.article()
        verdict, tags = self.judge.assess(article)
        if (
            not verdict.relevant
            and not article.text
            and item.page
            and item.source in self.judge.enrich
            and verdict.plausible
        ):
            article = item.article(page=True)
            verdict, tags = self.judge.assess(article)
        # The stored text of a relevant DD entry is its page (enriched after storing).
        if verdict.relevant and item.page and not article.text:
            _, tags = self.judge.assess(item.article(page=True))
        return Outcome(
            verdict.relevant,
            frozenset(tags.sectors),
            tags.primary,
            str(verdict.reason.get("text", "")),
        )

    def tags_of(self, item: Item) -> Outcome:
        """Sector tags on the stored text of a relevant item, whatever the verdict."""
        _, tags = self.judge.assess(item.article(page=bool(item.page)))
        return Outcome(True, frozenset(tags.sectors), tags.primary)


# --- scoring -------------------------------------------------------------------------------


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    wrong: list[str] = field(default_factory=list)

    def add(self, gold: bool, guess: bool, item_id: str = "") -> None:
        if gold and guess:
            self.tp += 1
        elif guess:
            self.fp += 1
            self.wrong.append(item_id)
        elif gold:
            self.fn += 1
            self.wrong.append(item_id)
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def cell(self) -> str:
        return f"{self.precision:.2f}/{self.recall:.2f}/{self.f1:.2f}"


JUDGES = ("naive", "old rule", "model")


def evaluate(items: list[Item]) -> dict[str, Any]:
    legacy, model = Legacy(), Model()
    judges: dict[str, Callable[[Item], Outcome]] = {
        "naive": naive,
        "old rule": legacy,
        "model": model,
    }
    scored = [i for i in items if i.label != "ambiguous"]
    results: dict[str, Any] = {"items": len(items), "scored": len(scored), "judges": {}}
    outcomes = {name: {i.id: judge(i) for i in items} for name, judge in judges.items()}
    for name in JUDGES:
        overall, by_source, by_class = Counts(), {}, {}
        for item in scored:
            gold, guess = item.label == "relevant", outcomes[name][item.id].relevant
            overall.add(gold, guess, item.id)
            by_source.setdefault(item.source, Counts()).add(gold, guess, item.id)
            by_class.setdefault(item.cls, Counts()).add(gold, guess, item.id)
        results["judges"][name] = {
            "overall": overall,
            "source": dict(sorted(by_source.items())),
            "class": dict(sorted(by_class.items())),
        }
    # Sectors, on the gold-relevant items: the model's tags whatever its verdict, the old
    # tagger's every-term tags.
    relevant = [i for i in scored if i.label == "relevant"]
    for name, tagger in (("old rule", legacy), ("model", model.tags_of)):
        counts, primary_hits = Counts(), 0
        wrong: list[str] = []
        for item in relevant:
            out = tagger(item)
            tp = len(out.sectors & item.sectors)
            counts.tp += tp
            counts.fp += len(out.sectors - item.sectors)
            counts.fn += len(item.sectors - out.sectors)
            if out.sectors != item.sectors:
                wrong.append(
                    f"{item.id}: gold {sorted(item.sectors)} got {sorted(out.sectors)}"
                    f" (primary {item.primary} / {out.primary})"
                )
            primary_hits += out.primary == item.primary
        counts.wrong = wrong
        results["judges"][name]["sectors"] = counts
        results["judges"][name]["primary"] = primary_hits / len(relevant) if relevant else 0.0
    results["errors"] = [
        (i.id, i.cls, i.label, outcomes["model"][i.id].reason)
        for i in scored
        if (i.label == "relevant") != outcomes["model"][i.id].relevant
    ]
    results["ambiguous"] = [
        (i.id, outcomes["model"][i.id].relevant, outcomes["model"][i.id].reason)
        for i in items
        if i.label == "ambiguous"
    ]
    return results


def throughput(items: list[Item], seconds: float = 2.0) -> dict[str, float]:
    """Articles judged per CPU second on one core: the eval items, and long analysis pieces."""
    judge = Model().judge
    articles = [i.article(page=bool(i.page)) for i in items]
    long_text = "\n".join(a.text for a in articles if a.source_id == "orf")
    long = [replace(articles[0], text=long_text[:9000])]  # ~1,500 words, an ORF special report
    page_text = "\n".join(a.text for a in articles if a.source_id == "ddnews")
    pages = [replace(articles[0], text=page_text[i : i + 1800]) for i in range(0, 18000, 1800)]
    out: dict[str, float] = {}
    for name, batch in (
        ("eval items", articles),
        ("300-word pages", pages),  # a DD News page, a JT open part
        ("1,500-word pieces", long),
    ):
        done, start = 0, time.process_time()
        while time.process_time() - start < seconds:
            for article in batch:
                judge.judge(replace(article))
            done += len(batch)
        out[name] = done / (time.process_time() - start)
    out["words per item"] = sum(
        len(a.text.split()) + len(a.summary.split()) for a in articles
    ) / len(articles)
    return out


# --- printing ------------------------------------------------------------------------------


def report(results: dict[str, Any], label: str, errors: bool) -> None:
    judges = results["judges"]
    print(f"\n== {label}: {results['items']} items, {results['scored']} scored (P/R/F1)")
    print(f"{'':24}" + "".join(f"{name:>18}" for name in JUDGES))
    print(f"{'overall':24}" + "".join(f"{judges[n]['overall'].cell():>18}" for n in JUDGES))
    for source in judges["model"]["source"]:
        n = judges["model"]["source"][source].n
        print(
            f"{source + f' ({n})':24}"
            + "".join(f"{judges[j]['source'][source].cell():>18}" for j in JUDGES)
        )
    print("per class: relevant classes show recall, the others the share correctly rejected")
    for cls, counts in judges["model"]["class"].items():
        cells = []
        for j in JUDGES:
            c = judges[j]["class"][cls]
            share = c.recall if c.tp + c.fn else (c.tn / c.n if c.n else 1.0)
            cells.append(f"{share:>18.2f}")
        print(f"{cls + f' ({counts.n})':24}" + "".join(cells))
    print("sectors (gold-relevant items; P/R/F1, primary accuracy)")
    for j in ("old rule", "model"):
        s = judges[j]["sectors"]
        print(f"  {j:22}{s.cell():>18}   primary {judges[j]['primary']:.2f}")
    if errors:
        print("wrong relevance verdicts of the model:")
        for item_id, cls, label, reason in results["errors"]:
            print(f"  {item_id} [{cls}, {label}]: {reason}")
        print("ambiguous items (not scored):")
        for item_id, relevant, reason in results["ambiguous"]:
            print(f"  {item_id}: {'relevant' if relevant else 'not relevant'}: {reason}")
        print("sector differences of the model:")
        for line in judges["model"]["sectors"].wrong:
            print(f"  {line}")


def as_json(results: dict[str, Any]) -> dict[str, Any]:
    def counts(c: Counts) -> dict[str, Any]:
        return {
            "precision": round(c.precision, 3),
            "recall": round(c.recall, 3),
            "f1": round(c.f1, 3),
            "n": c.n,
        }

    out: dict[str, Any] = {"items": results["items"], "scored": results["scored"]}
    for name, data in results["judges"].items():
        out[name] = {
            "overall": counts(data["overall"]),
            "source": {k: counts(v) for k, v in data["source"].items()},
            "class": {k: counts(v) for k, v in data["class"].items()},
        }
        if "sectors" in data:
            out[name]["sectors"] = counts(data["sectors"])
            out[name]["primary"] = round(data["primary"], 3)
    out["errors"] = results["errors"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=[*PARTS, "all"], default=None)
    parser.add_argument("--errors", action="store_true", help="list the wrong items")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    parts = list(PARTS) if args.part in (None, "all") else [args.part]
    shown = {p: evaluate(load([p])) for p in parts if PARTS[p].exists()}
    if args.part in (None, "all") and len(shown) > 1:
        shown["all"] = evaluate(load(parts))
    if args.json:
        print(json.dumps({k: as_json(v) for k, v in shown.items()}, indent=2))
        return
    print(
        "SYNTHETIC labelled items (bench/data/relevance/GUIDE.md); naive = the entry names "
        "India and Japan; old rule = before issue 13; model = feeds.yaml now"
    )
    for part, results in shown.items():
        report(results, part, args.errors)
    speed = throughput(load(parts))
    print(
        "\njudging throughput, one core (CPU time): "
        + ", ".join(
            f"{k} {v:,.0f}" + (" articles/s" if k != "words per item" else "")
            for k, v in speed.items()
        )
    )


if __name__ == "__main__":
    main()
