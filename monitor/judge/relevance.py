"""Relevance: is an article about India–Japan? Decides from term hits and says why.

Reads: the term hits of one article and the relevance settings. Writes: nothing.
A bilateral term is enough; otherwise an India-side and a Japan-side term must occur within
`near_words` words of each other (title, summary and text are read as one running text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.judge.terms import Hit

INDIA, JAPAN, BILATERAL = "india", "japan", "bilateral"


@dataclass(frozen=True, slots=True)
class Verdict:
    relevant: bool
    score: float  # 0..1: 1 for a bilateral term, ~0.6–0.95 for a close pair, < 0.5 when rejected
    reason: dict[str, Any]


def _terms(hits: list[Hit]) -> list[str]:
    return sorted({h.term for h in hits})


def _closest_pair(india: list[Hit], japan: list[Hit]) -> tuple[Hit, Hit, int]:
    """The India/Japan hit pair with the fewest words between them (both lists in text order)."""
    best = (india[0], japan[0], abs(india[0].word - japan[0].word))
    i = j = 0
    while i < len(india) and j < len(japan):
        distance = abs(india[i].word - japan[j].word)
        if distance < best[2]:
            best = (india[i], japan[j], distance)
        if india[i].word < japan[j].word:
            i += 1
        else:
            j += 1
    return best


def assess(hits: list[Hit], near_words: int) -> Verdict:
    """Judge relevance from the hits of the india/japan/bilateral groups."""
    bilateral = [h for h in hits if h.group == BILATERAL]
    india = [h for h in hits if h.group == INDIA]
    japan = [h for h in hits if h.group == JAPAN]
    if bilateral:
        first = bilateral[0]
        return Verdict(
            True,
            1.0,
            {
                "rule": "bilateral",
                "terms": _terms(bilateral),
                "field": first.field,
                "text": f"bilateral term {first.term!r} in {first.field}",
            },
        )
    if india and japan:
        a, b, distance = _closest_pair(india, japan)
        fields = {"india": a.field, "japan": b.field}
        reason: dict[str, Any] = {
            "india": _terms(india),
            "japan": _terms(japan),
            "pair": [a.term, b.term],
            "distance": distance,
            "fields": fields,
        }
        if distance <= near_words:
            closeness = 1 - distance / (near_words + 1)
            in_title = a.field == "title" and b.field == "title"
            score = round(min(0.6 + 0.25 * closeness + (0.1 if in_title else 0.0), 0.95), 3)
            where = a.field if a.field == b.field else f"{a.field}/{b.field}"
            reason.update(
                rule="near",
                text=f"{a.term!r} and {b.term!r} {distance} words apart in {where}",
            )
            return Verdict(True, score, reason)
        reason.update(
            rule="far",
            text=f"{a.term!r} and {b.term!r} are {distance} words apart (limit {near_words})",
        )
        return Verdict(False, 0.3, reason)
    side, found = (INDIA, india) if india else (JAPAN, japan)
    if found:
        return Verdict(
            False,
            0.1,
            {"rule": "one-sided", side: _terms(found), "text": f"only {side}-side terms"},
        )
    return Verdict(False, 0.0, {"rule": "none", "text": "no India or Japan terms"})
