"""One-pass term matching: boundaries, dash/space variants, prefixes, fields and word positions."""

from monitor.judge.terms import TermMatcher, normalize


def _terms(matcher: TermMatcher, text: str) -> list[tuple[str, str]]:
    return [(h.group, h.term) for h in matcher.find([("title", text)])]


def test_word_boundaries_and_case() -> None:
    m = TermMatcher({"japan": ["Japan"], "india": ["India"]})
    assert _terms(m, "JAPAN and india") == [("japan", "Japan"), ("india", "India")]
    assert _terms(m, "Indiana and Japanology") == []
    assert _terms(m, "Japan's envoy") == [("japan", "Japan")]


def test_hyphen_dash_and_space_variants_are_one_term() -> None:
    m = TermMatcher({"bilateral": ["India-Japan"], "infra": ["high-speed rail"]})
    for text in ("India–Japan ties", "India—Japan ties", "India Japan ties", "india-japan ties"):
        assert _terms(m, text) == [("bilateral", "India-Japan")], text
    assert _terms(m, "a high speed rail line") == [("infra", "high-speed rail")]
    assert _terms(m, "a high-speed  rail line") == [("infra", "high-speed rail")]


def test_hyphenated_term_also_matches_closed_form() -> None:
    m = TermMatcher({"digital": ["e-commerce"]})
    assert _terms(m, "ecommerce platforms") == [("digital", "e-commerce")]


def test_prefix_terms() -> None:
    m = TermMatcher({"chips": ["semiconductor*"]})
    assert _terms(m, "Semiconductors and semiconductor fabs") == [
        ("chips", "semiconductor*"),
        ("chips", "semiconductor*"),
    ]
    assert _terms(m, "nonsemiconductor") == []


def test_one_term_in_several_groups_and_overlaps() -> None:
    m = TermMatcher({"india": ["New Delhi", "Delhi"], "sector:x": ["New Delhi"]})
    found = sorted(_terms(m, "talks in New Delhi"))
    assert found == [("india", "Delhi"), ("india", "New Delhi"), ("sector:x", "New Delhi")]


def test_fields_and_word_positions() -> None:
    m = TermMatcher({"india": ["India"], "japan": ["Japan"]})
    hits = m.find([("title", "India today"), ("summary", "one two three Japan")])
    assert [(h.term, h.field) for h in hits] == [("India", "title"), ("Japan", "summary")]
    assert hits[1].word - hits[0].word == 6  # 4 words between, plus the field separator


def test_no_match_spans_two_fields() -> None:
    m = TermMatcher({"bilateral": ["India Japan"]})
    assert m.find([("title", "Made in India"), ("summary", "Japan")]) == []


def test_many_terms_still_one_automaton() -> None:
    terms = [f"term{i}" for i in range(5000)] + ["hydrogen"]
    m = TermMatcher({"energy": terms})
    assert _terms(m, "green hydrogen and term4999") == [
        ("energy", "hydrogen"),
        ("energy", "term4999"),
    ]


def test_normalize() -> None:
    assert normalize("  Indo–Japanese\u00a0Ties’ ") == "indo japanese ties'"
