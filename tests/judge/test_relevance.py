"""Relevance: bilateral terms, India/Japan proximity, and the recorded reason."""

from monitor.judge.relevance import assess
from monitor.judge.terms import TermMatcher

MATCHER = TermMatcher(
    {
        "india": ["India", "Indian", "New Delhi", "Modi"],
        "japan": ["Japan", "Japanese", "Tokyo", "Takaichi"],
        "bilateral": ["India-Japan", "Indo-Japanese"],
    }
)


def judge(title: str, summary: str = "", text: str = "", near: int = 40):  # type: ignore[no-untyped-def]
    hits = MATCHER.find([("title", title), ("summary", summary), ("text", text)])
    return assess(hits, near)


def test_bilateral_term_is_enough() -> None:
    v = judge("Indo-Japanese business forum opens")
    assert v.relevant and v.score == 1.0
    assert v.reason["rule"] == "bilateral" and v.reason["terms"] == ["Indo-Japanese"]
    assert "title" in v.reason["text"]


def test_close_pair_is_relevant_with_distance() -> None:
    v = judge("Modi meets Takaichi in Tokyo")
    assert v.relevant and v.reason["rule"] == "near"
    assert v.reason["distance"] <= 2
    assert 0.6 <= v.score <= 0.95


def test_pair_across_title_and_summary() -> None:
    v = judge("Japanese PM arrives for talks", "The visit to New Delhi is her first.")
    assert v.relevant
    assert v.reason["fields"] == {"india": "summary", "japan": "title"}


def test_india_only_and_japan_only_are_not_relevant() -> None:
    assert judge("Indian monsoon arrives early").reason["rule"] == "one-sided"
    assert not judge("Tokyo stocks close higher").relevant
    assert judge("Weather today").reason["rule"] == "none"


def test_far_apart_is_not_relevant() -> None:
    filler = " ".join(["word"] * 60)
    v = judge("India budget", text=f"{filler} Japan")
    assert not v.relevant and v.reason["rule"] == "far"
    assert v.reason["distance"] > 40
    assert judge("India budget", text=f"{filler} Japan", near=100).relevant


def test_closest_pair_is_found_among_many() -> None:
    filler = " ".join(["x"] * 50)
    v = judge("India", f"{filler} Japan {filler} India and Japan")
    assert v.relevant and v.reason["distance"] == 2
