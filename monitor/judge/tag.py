"""Sector tags: which sectors an article is about, the evidence for each, and its primary sector.

Reads: an article's sentences (judge/text.py) and the term hits of the sector groups (feeds.yaml
`sectors:`). Writes: nothing.

A sector is tagged when the article is about it, not when one of its words appears: a term in
the title or the lede, or in two sentences of the body (one, when the body is three sentences).
A sector named only in an enumeration of three sectors or more ("semiconductors, clean energy
and skill development") counts half. A term inside one of the sector's `false_friends` ("potato
chips") or in a sentence with one of its `not_with` words ("snack") is another sense.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from monitor.config import SectorConfig
from monitor.judge.terms import Hit
from monitor.judge.text import Sentence

SECTOR_PREFIX = "sector:"
FALSE_FRIEND_PREFIX = "sector-false-friend:"
NOT_WITH_PREFIX = "sector-not-with:"

WEIGHTS = {"title": 3.0, "lede": 2.0, "body": 1.0}
SHORT_BODY = 6  # in a body of fewer sentences, one sentence is a larger share: it weighs more
TAG_AT = 2.0  # points a sector needs to be tagged
CROWDED = 3  # sectors named in one sentence that make it a list of topics
TERM_BONUS = 0.5  # per further distinct term, at most MAX_TERM_BONUS
MAX_TERM_BONUS = 1.0


def sector_group(sector: str) -> str:
    return SECTOR_PREFIX + sector


def sector_groups(name: str, sector: SectorConfig) -> dict[str, list[str]]:
    """The matcher groups of one sector: its terms, false friends and other-sense words."""
    return {
        SECTOR_PREFIX + name: list(sector.terms),
        FALSE_FRIEND_PREFIX + name: list(sector.false_friends),
        NOT_WITH_PREFIX + name: list(sector.not_with),
    }


@dataclass
class Tags:
    sectors: dict[str, list[str]] = field(default_factory=dict)  # sector → terms that matched
    primary: str | None = None
    evidence: dict[str, str] = field(default_factory=dict)  # sector → why, in words
    ignored: list[str] = field(default_factory=list)  # terms read in another sense


@dataclass
class _Sector:
    points: float = 0.0
    first: int = 10**9
    terms: dict[str, list[str]] = field(default_factory=dict)  # term → places it was seen


# Between two topics of one enumeration: "semiconductors, clean energy and skill development".
_CONNECTOR = re.compile(r"^(?:[\s,;/&]|\b(?:and|or|as well as|the)\b)*$")


def _enumerated(hits: list[Hit], text: str) -> set[str]:
    """Sectors named only as items of an enumeration of CROWDED sectors or more."""
    ordered = sorted(hits, key=lambda h: h.start)
    runs: list[list[Hit]] = []
    for hit in ordered:
        if runs and (
            hit.start < runs[-1][-1].end or _CONNECTOR.match(text[runs[-1][-1].end : hit.start])
        ):
            runs[-1].append(hit)
        else:
            runs.append([hit])
    listed: set[str] = set()
    alone: set[str] = set()
    for run in runs:
        names = {h.group.removeprefix(SECTOR_PREFIX) for h in run}
        (listed if len(names) >= CROWDED else alone).update(names)
    return listed - alone


_KINDS: dict[str, tuple[str, str] | None] = {}


def _kind(group: str) -> tuple[str, str] | None:
    """("term" | "false-friend" | "not-with", sector) for a sector group, None for the others;
    remembered, since every hit of every article asks."""
    if group not in _KINDS:
        kind: tuple[str, str] | None = None
        for prefix, name in (
            (SECTOR_PREFIX, "term"),
            (FALSE_FRIEND_PREFIX, "false-friend"),
            (NOT_WITH_PREFIX, "not-with"),
        ):
            if group.startswith(prefix):
                kind = (name, group[len(prefix) :])
        _KINDS[group] = kind
    return _KINDS[group]


def _resolve(hits: list[Hit]) -> list[Hit]:
    """Overlapping terms of different sectors: the longest wins, then the first ("economic
    security dialogue" is economic security and a dialogue, not a security dialogue)."""
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start - h.end, h.start)):
        if not any(k.group != hit.group and k.start < hit.end and hit.start < k.end for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


def tag(sentences: list[Sentence], texts: list[str], hits: list[Hit]) -> Tags:
    """Sectors the article is about, each with its terms and the evidence in words; `texts`
    are the sentences' normalized texts (what the hits' spans index). A sector term inside or
    across a longer sector term ("infrastructure" in "digital public infrastructure", "security
    dialogue" across "economic security dialogue") does not count."""
    # Hits sorted once by part and kind: terms, false friends, other-sense words.
    terms_in: dict[int, list[Hit]] = {}
    friends_in: dict[int, list[Hit]] = {}
    senses_in: dict[int, set[str]] = {}
    for hit in hits:
        kind = _kind(hit.group)
        if kind is None:
            continue
        if kind[0] == "term":
            terms_in.setdefault(hit.part, []).append(hit)
        elif kind[0] == "false-friend":
            friends_in.setdefault(hit.part, []).append(hit)
        else:
            senses_in.setdefault(hit.part, set()).add(kind[1])
    found: dict[str, _Sector] = {}
    ignored: set[str] = set()
    body = sum(1 for s in sentences if s.field != "title")
    weights = dict(WEIGHTS, body=min(WEIGHTS["lede"], max(1.0, SHORT_BODY / max(body, 1))))
    for part, sector_hits in sorted(terms_in.items()):
        sentence = sentences[part]
        where = "title" if sentence.field == "title" else "lede" if sentence.lede else "body"
        friends = friends_in.get(part, [])
        senses = senses_in.get(part, set())
        here: dict[str, set[str]] = {}
        here_hits: list[Hit] = []
        if len(sector_hits) > 1:
            sector_hits = _resolve(sector_hits)
        for hit in sector_hits:
            name = hit.group[len(SECTOR_PREFIX) :]
            if name in senses or any(
                f.group == FALSE_FRIEND_PREFIX + name and f.start <= hit.start and hit.end <= f.end
                for f in friends
            ):
                ignored.add(hit.term)
                continue
            here.setdefault(name, set()).add(hit.term)
            here_hits.append(hit)
        listed = _enumerated(here_hits, texts[part])
        for name, terms in here.items():
            sector = found.setdefault(name, _Sector())
            sector.points += weights[where] * (0.5 if name in listed else 1.0)
            sector.first = min(sector.first, part)
            for term in terms:
                places = sector.terms.setdefault(term, [])
                if where not in places:
                    places.append(where)
    tags = Tags(ignored=sorted(ignored - {t for s in found.values() for t in s.terms}))
    ranked: list[tuple[float, int, str]] = []
    for name, sector in found.items():
        points = sector.points + min(TERM_BONUS * (len(sector.terms) - 1), MAX_TERM_BONUS)
        if points < TAG_AT:
            continue
        ranked.append((-points, sector.first, name))
        tags.sectors[name] = sorted(sector.terms)
        tags.evidence[name] = (
            "; ".join(
                f"{term!r} in the {' and '.join(places)}" for term, places in sector.terms.items()
            )
            .replace("in the body", "in the body")
            .replace("in the lede", "in the lede")
        )
    tags.sectors = dict(sorted(tags.sectors.items()))
    if ranked:
        tags.primary = min(ranked)[2]
    return tags
