"""Keyword rules: query grammar, truth tables, errors, and one-pass matching of many rules."""

from __future__ import annotations

import itertools
import random
import re
from typing import Any

import pytest

from monitor.article import Article
from monitor.judge.rules import Query, Rule, RuleMatch, RuleSet, RuleSyntaxError, parse_query
from monitor.judge.terms import Hit, TermMatcher, normalize
from tests.articles import entry


def article(
    title: str,
    summary: str = "",
    text: str = "",
    *,
    source: str = "jt",
    relevance: float = 1.0,
    sectors: dict[str, list[str]] | None = None,
) -> Article:
    return entry(title, summary, text, source=source, relevance=relevance, sectors=sectors or {})


def truth_table(query: str, terms: list[str]) -> dict[tuple[bool, ...], bool]:
    q = parse_query(query)
    return {
        values: q.evaluate({t for t, v in zip(terms, values, strict=True) if v})
        for values in itertools.product([False, True], repeat=len(terms))
    }


def expected_table(terms: list[str], fn: Any) -> dict[tuple[bool, ...], bool]:
    return {
        values: bool(fn(*values)) for values in itertools.product([False, True], repeat=len(terms))
    }


# --- grammar and evaluation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "fn"),
    [
        ("a AND b", lambda a, b, c: a and b),
        ("a OR b", lambda a, b, c: a or b),
        ("a and b", lambda a, b, c: a and b),
        ("a or b", lambda a, b, c: a or b),
        ("a b", lambda a, b, c: a and b),  # adjacency is AND
        ("NOT a", lambda a, b, c: not a),
        ("not a", lambda a, b, c: not a),
        ("a NOT b", lambda a, b, c: a and not b),
        ("a AND NOT b", lambda a, b, c: a and not b),
        ("a OR b AND c", lambda a, b, c: a or (b and c)),  # AND binds tighter than OR
        ("a AND b OR c", lambda a, b, c: (a and b) or c),
        ("a b OR c", lambda a, b, c: (a and b) or c),
        ("(a OR b) AND c", lambda a, b, c: (a or b) and c),
        ("(a OR b) c", lambda a, b, c: (a or b) and c),
        ("a (b OR c)", lambda a, b, c: a and (b or c)),
        ("NOT a OR b", lambda a, b, c: (not a) or b),  # NOT binds tighter than OR
        ("NOT a AND b", lambda a, b, c: (not a) and b),  # ... and than AND
        ("NOT (a OR b)", lambda a, b, c: not (a or b)),
        ("NOT (a b) OR c", lambda a, b, c: (not (a and b)) or c),
        ("NOT NOT a", lambda a, b, c: a),
        ("((a))", lambda a, b, c: a),
        ("a OR (b AND (c OR NOT a))", lambda a, b, c: a or (b and (c or not a))),
        ("a AND b AND c", lambda a, b, c: a and b and c),
        ("a OR b OR c", lambda a, b, c: a or b or c),
        ("NOT a NOT b NOT c", lambda a, b, c: not a and not b and not c),
    ],
)
def test_truth_tables(query: str, fn: Any) -> None:
    terms = ["a", "b", "c"]
    assert truth_table(query, terms) == expected_table(terms, fn), query


def test_terms_as_written() -> None:
    q = parse_query('"rare earth" OR semicon* AND NOT cricket 2+2 JIMEX "high-speed  rail"')
    assert q.terms == frozenset(
        {"rare earth", "semicon*", "cricket", "2+2", "JIMEX", "high-speed rail"}
    )
    assert q.evaluate({"rare earth"})
    assert q.evaluate({"semicon*", "2+2", "JIMEX", "high-speed rail"})
    assert not q.evaluate({"semicon*", "2+2", "JIMEX", "high-speed rail", "cricket"})
    assert not q.evaluate(["semicon*"])  # any collection works, not only sets


def test_quoted_single_word_is_the_same_term() -> None:
    assert parse_query('"hydrogen"') == parse_query("hydrogen")
    assert parse_query('"AND"').terms == frozenset({"AND"})  # quotes make an operator a term
    assert parse_query('"not" india').evaluate({"not", "india"})


def test_empty_query_matches_everything() -> None:
    for text in ("", "   ", "\n\t"):
        q = parse_query(text)
        assert q.terms == frozenset()
        assert q.evaluate(set()) and q.evaluate({"x"})
        assert q.why({"x"}) == []
        assert str(q) == ""


def test_why_lists_only_positive_terms_that_made_it_true() -> None:
    q = parse_query('("rare earth" OR semicon*) AND NOT cricket')
    assert q.why({"rare earth", "semicon*"}) == ["rare earth", "semicon*"]
    assert q.why({"semicon*"}) == ["semicon*"]
    assert q.why({"semicon*", "cricket"}) == []  # false
    assert q.why(set()) == []
    q = parse_query("a OR (b AND d)")
    assert q.why({"a", "b"}) == ["a"]  # b alone did not contribute
    assert q.why({"a", "b", "d"}) == ["a", "b", "d"]
    assert parse_query("NOT cricket").why({"india"}) == []
    assert parse_query("NOT NOT x").why({"x"}) == ["x"]  # double negation is positive
    assert parse_query("NOT (a AND NOT b)").why({"b"}) == ["b"]


def test_str_is_normalised() -> None:
    cases = {
        '("rare earth" OR semicon*) AND NOT cricket': '("rare earth" OR semicon*) AND NOT cricket',
        "india japan": "india AND japan",
        "a or b and c": "a OR (b AND c)",
        "a AND (b AND c)": "a AND b AND c",
        "(a OR b) OR c": "a OR b OR c",
        "not (a or b)": "NOT (a OR b)",
        "NOT   a": "NOT a",
        '"and"  "rare   earth"': '"and" AND "rare earth"',
        '"-x"': '"-x"',
        "((a))": "a",
    }
    for text, normal in cases.items():
        assert str(parse_query(text)) == normal, text


@pytest.mark.parametrize(
    "text",
    [
        '("rare earth" OR semicon*) AND NOT cricket',
        "a OR b c OR NOT d",
        "NOT (a b) OR c (d OR NOT e)",
        'NOT NOT "high-speed rail" 2+2',
        '"or" "not" "AND" JIMEX',
        '"rare earth*" OR "(x)"',
        '"-x" OR y',
        "",
    ],
)
def test_str_round_trip(text: str) -> None:
    q = parse_query(text)
    again = parse_query(str(q))
    assert again == q
    assert str(again) == str(q)
    terms = sorted(q.terms)
    for values in itertools.product([False, True], repeat=len(terms)):
        found = {t for t, v in zip(terms, values, strict=True) if v}
        assert again.evaluate(found) == q.evaluate(found)
        assert again.why(found) == q.why(found)


def test_query_is_immutable_and_hashable() -> None:
    q = parse_query("a b")
    with pytest.raises(AttributeError):
        q.root = None  # type: ignore[misc]
    assert hash(q) == hash(parse_query("a AND b"))


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("india AND (japan))", "unexpected ')'", 17),
        (")", "unexpected ')'", 0),
        ('ab "rare earth', "unterminated quote starting", 3),
        ("semi*con", "'*' only allowed at the end of a word", 4),
        ("semicon**", "'*' only allowed at the end of a word", 7),
        ('"x*y"', "'*' only allowed at the end of a word", 2),
        ('a  "rare * earth"', "'*' only allowed at the end of a word", 9),
        ('a  "rare earth *"', "'*' must follow a letter or digit", 15),
        ("*", "'*' must follow a letter or digit", 0),
        ("chips OR NOT", "expected a term after NOT", 12),
        ("chips OR NOT )", "expected a term after NOT", 13),
        ("NOT AND a", "expected a term after NOT", 4),
        ("a AND OR b", "expected a term after AND", 6),
        ("(a AND)", "expected a term after AND", 6),
        ("a OR", "expected a term after OR", 4),
        ("OR a", "unexpected 'OR'", 0),
        ("(AND a)", "unexpected 'AND'", 1),
        ("a ()", "empty parentheses", 2),
        ("a ( )", "empty parentheses", 2),
        ("(a", "unclosed '('", 0),
        ("x (a OR (b)", "unclosed '('", 2),
        ("a (", "unclosed '('", 2),
        ('a ""', "empty phrase", 2),
        ('"   "', "empty phrase", 0),
        ("a | b", "unexpected '|' (write OR)", 2),
        ('"a|b"', "'|' not allowed in a phrase", 2),
        ("-cricket", "leading '-' is not an operator (use NOT)", 0),
        ("india & japan", "term '&' has no letters or digits", 6),
        ("(" * 101 + "a" + ")" * 101, "query nested too deeply", 100),
    ],
)
def test_syntax_errors(text: str, message: str, position: int) -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse_query(text)
    assert str(info.value) == f"{message} at position {position}"
    assert info.value.position == position
    assert isinstance(info.value, ValueError)


def test_not_only_queries_are_allowed() -> None:
    q = parse_query("NOT cricket")
    assert q.evaluate(set()) and not q.evaluate({"cricket"})
    assert parse_query("NOT cricket NOT football").evaluate({"india"})


# --- RuleSet ----------------------------------------------------------------------------------


def keys(matches: list[RuleMatch]) -> list[str]:
    return [m.rule for m in matches]


def test_ruleset_matches_and_explains() -> None:
    rules = RuleSet(
        [
            Rule("a/chips", parse_query('("rare earth" OR semicon*) AND NOT cricket')),
            Rule("b/rail", parse_query('"high-speed rail" OR shinkansen')),
            Rule("c/defence", parse_query("JIMEX OR (navy exercise)")),
            Rule("d/dialogue", parse_query("2+2 dialogue")),
        ]
    )
    a = article(
        "Japan, India sign semiconductor pact",
        "Rare-earth supply chains also discussed.",
        "The high–speed rail corridor is on track. A 2+2 dialogue follows.",
    )
    matches = rules.match(a)
    assert keys(matches) == ["a/chips", "b/rail", "d/dialogue"]
    assert matches[0].terms == ["rare earth", "semicon*"]
    assert matches[1].terms == ["high-speed rail"]
    assert matches[2].terms == ["2+2", "dialogue"]
    a = article("Semiconductor firms sponsor cricket league")
    assert keys(rules.match(a)) == []


def test_hyphen_dash_space_variants_in_phrases() -> None:
    rules = RuleSet([Rule("rail", parse_query('"high-speed rail"'))])
    for text in (
        "high-speed rail",
        "high speed rail",
        "high–speed rail",
        "high—speed rail",
        "High Speed  Rail",
        "highspeed rail",
    ):
        assert keys(rules.match(article(text))) == ["rail"], text
    assert keys(rules.match(article("high-speed railway"))) == []


def test_word_boundaries_and_prefixes() -> None:
    rules = RuleSet(
        [
            Rule("japan", parse_query("japan")),
            Rule("semi", parse_query("semicon*")),
        ]
    )
    assert keys(rules.match(article("Japanology lecture"))) == []
    assert keys(rules.match(article("JAPAN's envoy"))) == ["japan"]
    assert keys(rules.match(article("Semiconductors boom"))) == ["semi"]
    assert keys(rules.match(article("nonsemiconductor"))) == []


def test_terms_do_not_span_fields() -> None:
    rules = RuleSet([Rule("re", parse_query('"rare earth"'))])
    assert keys(rules.match(article("about rare", "earth matters"))) == []
    assert keys(rules.match(article("x", "y", "about rare earth"))) == ["re"]


def test_filters_sectors_sources_relevance() -> None:
    q = parse_query("hydrogen")
    rules = RuleSet(
        [
            Rule("plain", q),
            Rule("energy", q, sectors=frozenset({"energy", "climate"})),
            Rule("space", q, sectors=frozenset({"space"})),
            Rule("jt-only", q, sources=frozenset({"jt"})),
            Rule("orf-only", q, sources=frozenset({"orf", "ddnews"})),
            Rule("strict", q, min_relevance=0.8),
            Rule("exact", q, min_relevance=0.7),
        ]
    )
    sectors = {"energy": ["hydrogen"], "infrastructure": ["port"]}
    a = article("Green hydrogen deal", source="jt", relevance=0.7, sectors=sectors)
    matches = {m.rule: m for m in rules.match(a)}
    assert list(matches) == ["plain", "energy", "jt-only", "exact"]
    assert matches["energy"].sectors == ["energy"]  # only the sectors that satisfied the filter
    assert matches["plain"].sectors == ["energy", "infrastructure"]  # no filter: all
    assert matches["plain"].terms == ["hydrogen"]
    b = article("Green hydrogen deal", source="orf", relevance=0.9)
    assert keys(rules.match(b)) == ["plain", "orf-only", "strict", "exact"]


def test_not_only_and_no_query_rules_are_always_candidates() -> None:
    rules = RuleSet(
        [
            Rule("all", None),
            Rule("empty", parse_query("")),
            Rule("no-cricket", parse_query("NOT cricket")),
            Rule("either", parse_query("hydrogen OR NOT india")),
            Rule("needs-term", parse_query("hydrogen NOT cricket")),
            Rule("all-space", None, sectors=frozenset({"space"})),
        ]
    )
    m = rules.match(article("India wins the cricket final"))
    assert keys(m) == ["all", "empty"]
    assert all(x.terms == [] for x in m)
    assert keys(rules.match(article("Japan budget"))) == ["all", "empty", "no-cricket", "either"]
    assert keys(rules.match(article("India hydrogen plan"))) == [
        "all",
        "empty",
        "no-cricket",
        "either",
        "needs-term",
    ]
    got = rules.match(article("ISRO and JAXA", sectors={"space": ["JAXA"]}))
    assert got[-1] == RuleMatch("all-space", [], ["space"])


def test_same_term_different_case_in_two_rules() -> None:
    rules = RuleSet([Rule("upper", parse_query("JIMEX")), Rule("lower", parse_query("jimex"))])
    matches = rules.match(article("Jimex 2025 begins"))
    assert [(m.rule, m.terms) for m in matches] == [("upper", ["JIMEX"]), ("lower", ["jimex"])]


def test_duplicate_rule_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate rule key"):
        RuleSet([Rule("x", None), Rule("x", None)])


def test_empty_ruleset() -> None:
    rules = RuleSet([])
    assert len(rules) == 0
    assert rules.match(article("anything")) == []


# --- scale ------------------------------------------------------------------------------------


def _oracle_found(terms: set[str], text: str) -> set[str]:
    """Which terms occur in the text, computed independently of the Aho-Corasick matcher."""
    norm = normalize(text)
    found = set()
    for term in terms:
        base = normalize(term.rstrip("*"))
        tail = "" if term.endswith("*") else r"(?![a-z0-9])"
        if re.search(r"(?<![a-z0-9])" + re.escape(base) + tail, norm):
            found.add(term)
    return found


def test_scale_5000_rules_one_matcher_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(20250101)
    syllables = ["ka", "ri", "to", "mu", "sen", "dra", "pol", "vik", "na", "zo"]
    vocabulary = sorted({"".join(rng.choices(syllables, k=3)) for _ in range(2000)})

    def operand() -> str:
        roll = rng.random()
        if roll < 0.1:
            return rng.choice(vocabulary)[:4] + "*"
        if roll < 0.2:
            return f'"{rng.choice(vocabulary)} {rng.choice(vocabulary)}"'
        return rng.choice(vocabulary)

    def query() -> str:
        shape = rng.randrange(6)
        a, b, c = operand(), operand(), operand()
        return [
            f"{a}",
            f"{a} AND {b}",
            f"{a} OR {b}",
            f"({a} OR {b}) AND NOT {c}",
            f"{a} {b} OR {c}",
            f"NOT {a}",  # always a candidate
        ][shape]

    rule_list = [Rule(f"r{i}", parse_query(query())) for i in range(5000)]
    rules = RuleSet(rule_list)
    words = rng.sample(vocabulary, 60)
    text = " ".join(words) + ". " + " ".join(rng.sample(words, 30))
    doc = article(words[0].title(), " ".join(words[1:10]), text)

    calls: list[int] = []
    original_find = TermMatcher.find

    def counting_find(self: TermMatcher, fields: Any) -> list[Hit]:
        calls.append(1)
        return original_find(self, fields)

    evaluated: list[int] = []
    original_evaluate = Query.evaluate

    def counting_evaluate(self: Query, found: Any) -> bool:
        evaluated.append(1)
        return original_evaluate(self, found)

    monkeypatch.setattr(TermMatcher, "find", counting_find)
    monkeypatch.setattr(Query, "evaluate", counting_evaluate)
    matches = rules.match(doc)

    assert len(calls) == 1  # one scan of the text, however many rules
    all_terms = set().union(*(r.query.terms for r in rule_list if r.query is not None))
    found = _oracle_found(all_terms, f"{doc.title} | {doc.summary} | {doc.text}")
    monkeypatch.setattr(Query, "evaluate", original_evaluate)
    expected = [r.key for r in rule_list if r.query is not None and r.query.evaluate(found)]
    assert keys(matches) == expected
    assert len(expected) > 50  # the document really matches a good share of rules
    assert len(evaluated) < len(rule_list) // 2  # only candidates were evaluated
    for m in matches[:200]:
        rule = rule_list[int(m.rule[1:])]
        assert rule.query is not None and m.terms == rule.query.why(found)
