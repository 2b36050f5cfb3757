"""Relevance: is an article about the two sides dealing with each other? Weighs transparent
evidence, sentence by sentence, and says why in words.

Reads: an article's sentences (judge/text.py), their normalized texts and the term hits of the
groups below (every list comes from feeds.yaml `relevance:`). Writes: nothing.

Evidence for: a bilateral term; a sentence in which an actor of each side (country, capital,
leader, agency, force, company, state…) is linked by a relation word or stands coordinated with
the other ("India and Japan agree…"); the two sides named in the title and the lede; one side's
actor taking part (a relation word) in a story about the other; both sides present throughout.
Evidence against: the sides only as items of a list of many parties, compared or contrasted,
in a sports fixture, one named only as a label ("a subsidiary of…"), one side mentioned once in
passing, many other parties in the piece, false friends ("Indian Ocean").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from monitor.judge.terms import Hit
from monitor.judge.text import Sentence

INDIA, JAPAN, BILATERAL = "india", "japan", "bilateral"
OTHER = "other"
FALSE_FRIEND = "false-friend"
CONTEXT_PREFIX = "context:"  # context:<term>: a word that makes <term> mean something else
RELATION, DESCRIPTOR, COMPARISON, LISTS, SPORT = (
    "cue:relation",
    "cue:descriptor",
    "cue:comparison",
    "cue:lists",
    "cue:sport",
)
_NAMES = frozenset({INDIA, JAPAN, BILATERAL, OTHER})
_CUES = frozenset({RELATION, DESCRIPTOR, COMPARISON, LISTS, SPORT})
MODEL_VERSION = 5  # part of the rules hash: a new model re-opens remembered verdicts

# The weights: points of evidence; an article is relevant at THRESHOLD points or more. Set by
# reading the tuning part of bench/data/relevance/, then frozen (README: Relevance).
THRESHOLD = 2.0
FULL_SCORE = 4.0  # points above the threshold that make a score of 1
BILATERAL_POINTS = {"title": 4.0, "lede": 3.5, "body": 3.0}
PAIR_POINTS = {  # a sentence naming both sides, by what links them and where it is
    "linked": {"title": 3.0, "lede": 2.5, "body": 2.0},
    "coordinated": {"title": 2.5, "lede": 2.0, "body": 1.25},
    "group": {"title": 2.0, "lede": 1.5, "body": 1.0},
    "mentioned": {"title": 2.0, "lede": 1.0, "body": 0.5},
}
FURTHER_PAIRS = 0.4  # each further pair sentence counts this share of its points
FURTHER_CAP = 2.0
CROSS_POINTS = 1.5  # title names one side, the lede the other
PARTAKES_POINTS = 1.5  # the other side's actor does something (a relation word) in the story
RELATION_BONUS = 0.5
SPREAD_POINTS = {2: 0.5, 3: 1.0}  # both sides in at least this many sentences
SPORT_PENALTY = -3.0
ROUNDUP_PENALTY = -1.5
PASSING_PENALTY = -1.5
COMPARISON_PENALTY = -1.0
TITLE_COMPARISON_PENALTY = -2.0  # a title that compares frames the whole piece
NEGATIVE_KINDS = frozenset({"list", "comparison", "sport", "label"})
LINKING_KINDS = frozenset({"linked", "coordinated", "group"})
OTHER_PAIR_PENALTY = -1.0

# Between two parties of one list: commas, "and", "or", "the", possessives, "as well as" (and
# the full stop of "U.S.").
_CONNECTOR = re.compile(r"^(?:[\s,;/&.]|\b(?:and|or|nor|plus|the|as well as|along with|'s)\b)*$")
_LIST_RUN = 3  # parties in one coordinated run that make it a list
_LIST_OTHERS = 3  # other parties in one sentence that make it a list
_GROUP_MAX = 4  # a run of at most this many, both sides in it, acting together: a small group
_CUE_REACH = 24  # characters around a run within which a list cue ("among", "including") binds
_COMPARISON_REACH = 16  # characters before the first side ("unlike X, Y") or after the last
_QUANTITY = re.compile(r"\s*(?:[¥$€£₹]|rs\b|usd\b|jpy\b|inr\b|us\$)?\s*\d")
_NEGATION = re.compile(r"\b(?:not|no|never|neither|nor|without)\b")
_NEAR_CUE = 8  # words between an actor and a relation word that belongs to it
_COORDINATOR = re.compile(r",|;|\b(?:and|while|but|whereas)\b")
# "in India and Japan", "across Japan and India": a topic found in both places, not a joint actor
_PLACE_BEFORE = re.compile(r"\b(?:in|across|of|for|from) (?:the )?$")
_CONTRAST = re.compile(r"\b(?:while|but|whereas)\b")
_ROUNDUP_OTHERS = 4
_ROUNDUP_SHARE = 0.5
_PASSING_MIN_SENTENCES = 4
_SPORT_WORDS = 2  # sport words in the title and lede that make a sports story


def groups(
    *,
    india: Iterable[str],
    japan: Iterable[str],
    bilateral: Iterable[str],
    others: Iterable[str] = (),
    false_friends: Iterable[str] = (),
    false_friend_contexts: Mapping[str, Iterable[str]] | None = None,
    relation: Iterable[str] = (),
    descriptors: Iterable[str] = (),
    comparison: Iterable[str] = (),
    lists: Iterable[str] = (),
    sport: Iterable[str] = (),
) -> dict[str, list[str]]:
    """The matcher groups this model reads, from the relevance settings."""
    out = {
        INDIA: list(india),
        JAPAN: list(japan),
        BILATERAL: list(bilateral),
        OTHER: list(others),
        FALSE_FRIEND: list(false_friends),
        RELATION: list(relation),
        DESCRIPTOR: list(descriptors),
        COMPARISON: list(comparison),
        LISTS: list(lists),
        SPORT: list(sport),
    }
    for term, words in (false_friend_contexts or {}).items():
        out[CONTEXT_PREFIX + term] = list(words)
    return out


@dataclass(frozen=True, slots=True)
class Verdict:
    relevant: bool
    score: float  # 0..1: relevant 0.55–1, not relevant 0–0.45
    reason: dict[str, Any]
    # Worth reading the whole page before deciding, when only a short text was judged: a side,
    # a bilateral term or a sector term is present.
    plausible: bool = False


@dataclass(slots=True)
class _Mention:
    side: str  # india | japan | bilateral | other
    term: str
    start: int
    end: int
    word: int
    listed: bool = False  # one item of a list of many parties


@dataclass(slots=True)
class _Line:
    """One sentence as evidence."""

    index: int
    where: str  # title | lede | body
    text: str = ""  # normalized (terms.normalize), what the hits' spans index
    mentions: list[_Mention] = field(default_factory=list)
    cues: dict[str, list[Hit]] = field(default_factory=dict)
    kind: str | None = None  # for a sentence naming both sides: linked, coordinated, … list
    detail: str = ""  # the comparison word, for the reason

    def sides(self, *, listed: bool = True) -> set[str]:
        """The sides named here; without the ones only named as items of a list."""
        if not self.mentions:
            return set()
        found: set[str] = set()
        for m in self.mentions:
            if m.side == OTHER or (m.listed and not listed):
                continue
            if m.side == BILATERAL:
                found.update((INDIA, JAPAN))
            else:
                found.add(m.side)
        return found

    def terms(self, side: str) -> list[str]:
        return [m.term for m in self.mentions if m.side in (side, BILATERAL)]

    def cue(self, group: str) -> list[str]:
        return [h.term for h in self.cues.get(group, ())]


def _where(sentence: Sentence) -> str:
    return "title" if sentence.field == "title" else "lede" if sentence.lede else "body"


@dataclass
class _Others:
    """What the lines leave out: other parties named in sentences that name no side, and
    whether a title that names no side compares."""

    count: int = 0
    terms: set[str] = field(default_factory=set)
    title_compares: bool = False


def _lines(
    sentences: list[Sentence], texts: list[str], hits: list[Hit], others: _Others
) -> tuple[list[_Line], list[str], bool]:
    """The sentences that name a side, with their mentions and cues (false friends and names
    inside names removed), in reading order; what was ignored (for the reason); and whether a
    sector term was seen. Sentences naming only other parties are counted in `others`."""
    names_in: dict[int, list[Hit]] = {}
    friends_in: dict[int, list[Hit]] = {}
    cues_in: dict[int, list[Hit]] = {}
    context_parts: dict[str, set[int]] = {}
    sector_seen = False
    for hit in hits:  # one pass, sorting hits by what they are
        group = hit.group
        if group in _NAMES:
            names_in.setdefault(hit.part, []).append(hit)
        elif group in _CUES:
            cues_in.setdefault(hit.part, []).append(hit)
        elif group == FALSE_FRIEND:
            friends_in.setdefault(hit.part, []).append(hit)
        elif group.startswith(CONTEXT_PREFIX):
            context_parts.setdefault(group[len(CONTEXT_PREFIX) :], set()).add(hit.part)
        elif not sector_seen and group.startswith("sector:"):
            sector_seen = True
    # One sense per discourse: a term that its context words turn into something else anywhere
    # in the article ("Austria's broadcaster ORF") means that thing throughout.
    other_sense = {
        term
        for term, parts in context_parts.items()
        if any(h.term == term for part in parts for h in names_in.get(part, ()))
    }
    ignored: list[str] = []
    kept_in: dict[int, list[Hit]] = {}
    lines: dict[int, _Line] = {}
    for part, names in names_in.items():
        friends = friends_in.get(part, ())
        if len(names) == 1 and not friends and not other_sense:
            kept = names  # the common case: nothing to remove
        else:
            kept = []
            # Longest first at each start: a name inside a longer one ("Delhi" in "New Delhi",
            # "Japan" in "Bank of Japan", "Suzuki" in "Maruti Suzuki") ends within it.
            cover = (-1, -1)
            for hit in sorted(names, key=lambda h: (h.start, h.start - h.end)):
                inside = hit.end <= cover[1] and (hit.start, hit.end) != cover
                if hit.end > cover[1]:
                    cover = (hit.start, hit.end)
                if inside:
                    continue
                friend = next(
                    (f for f in friends if f.start <= hit.start and hit.end <= f.end), None
                )
                if friend is not None:
                    if hit.group != OTHER:
                        ignored.append(f"{friend.term!r} is not {hit.group.title()}")
                    continue
                if hit.term in other_sense:
                    ignored.append(f"{hit.term!r} here is another {hit.term}")
                    continue
                kept.append(hit)
        if not kept:
            continue
        if all(h.group == OTHER for h in kept):  # only counted, for the roundup
            others.count += len(kept)
            others.terms.update(h.term for h in kept)
            continue
        kept_in[part] = kept
        line = lines[part] = _Line(part, _where(sentences[part]), texts[part])
        line.mentions = sorted(
            (_Mention(h.group, h.term, h.start, h.end, h.word) for h in kept),
            key=lambda m: m.start,
        )
    for part, cues in cues_in.items():
        if sentences[part].field == "title":
            others.title_compares = any(
                h.group == COMPARISON and _comparative(h, texts[part]) for h in cues
            )
        if part not in lines:
            continue  # a relation word with no actor in its sentence says nothing
        # "Cooperation" inside "Japan Bank for International Cooperation" is part of a name;
        # only a name of several words can hold a cue word.
        spans = [
            (n.start, n.end) for n in kept_in[part] if " " in lines[part].text[n.start : n.end]
        ]
        line = lines[part]
        for hit in cues:
            if not spans or not any(a <= hit.start and hit.end <= b for a, b in spans):
                line.cues.setdefault(hit.group, []).append(hit)
    return [lines[part] for part in sorted(lines)], sorted(set(ignored)), sector_seen


def _runs(mentions: list[_Mention], text: str) -> list[list[_Mention]]:
    """Party mentions that stand in one coordinated run: "India, Japan and Australia"."""
    runs: list[list[_Mention]] = []
    for m in mentions:
        if runs and _CONNECTOR.match(text[runs[-1][-1].end : m.start]):
            runs[-1].append(m)
        else:
            runs.append([m])
    return runs


def _comparative(cue: Hit, text: str) -> bool:
    """Whether a comparison word compares here. "More than 500" is a quantity; two function
    words compare only in one position: "while" after a comma ("…, while India…"), "like" at the
    start of the sentence ("Like Japan before it, India…")."""
    if _QUANTITY.match(text, cue.end):
        return False
    if cue.term == "while":
        return text[: cue.start].rstrip().endswith(",")
    if cue.term == "like":
        return cue.start == 0
    return True


def _comparing(line: _Line, text: str, first: _Mention, last: _Mention) -> str | None:
    """The comparison cue that compares the two sides in this sentence, if any: between them,
    just before the first ("unlike Tokyo, New Delhi…") or just after the last ("… side by
    side")."""
    for cue in line.cues.get(COMPARISON, []):
        if not _comparative(cue, text):
            continue
        if (
            first.start <= cue.start <= last.end
            or 0 <= first.start - cue.end <= _COMPARISON_REACH
            or 0 <= cue.start - last.end <= _COMPARISON_REACH
        ):
            return cue.term
    return None


def _compares(line: _Line) -> bool:
    """A comparison word that is not a quantity ("more than 500") is in this sentence."""
    return any(_comparative(cue, line.text) for cue in line.cues.get(COMPARISON, []))


def _parallel(line: _Line, text: str, sides: list[_Mention]) -> bool:
    """ "Japan's X …, India's Y …" or "Osaka has built levees; Mumbai has relied on mangroves":
    each side owns its clause and no relation word links them. A title juxtaposes ("Bengaluru's
    engineers and Tokyo's deficit") unless it contrasts."""
    if ";" in text and not line.cues.get(RELATION):
        starts = [0] + [i + 1 for i, c in enumerate(text) if c == ";"]
        ends = [i for i, c in enumerate(text) if c == ";"] + [len(text)]
        clauses = {
            frozenset(m.side for m in sides if a <= m.start < b)
            for a, b in zip(starts, ends, strict=True)
        }
        if {frozenset({INDIA}), frozenset({JAPAN})} <= clauses:
            return True
    relation_after = [c.start for c in line.cues.get(RELATION, [])]
    coordinator = _CONTRAST if line.where == "title" else _COORDINATOR
    for a, b in pairwise(sides):
        if a.side == b.side or BILATERAL in (a.side, b.side):
            continue
        if text[a.end : a.end + 2] != "'s" or text[b.end : b.end + 2] != "'s":
            continue
        gap = text[a.end : b.start]
        if coordinator.search(gap) and not any(start > b.end for start in relation_after):
            return True
    return False


def _parties(run: list[_Mention]) -> int:
    """Distinct parties of a run: one side's actors ("Rakuten, Hitachi and Mitsubishi") are one
    party, a bilateral term is both sides, each other country is one."""
    keys: set[str] = set()
    for m in run:
        keys.update(
            (INDIA, JAPAN) if m.side == BILATERAL else (m.term if m.side == OTHER else m.side,)
        )
    return len(keys)


def _classify(line: _Line, text: str, near_words: int) -> None:
    """Mark listed mentions, and give a sentence that names both sides its kind."""
    mentions = line.mentions
    list_cues = line.cues.get(LISTS, [])
    grouped = False
    runs: list[list[_Mention]] | None = None
    if len(mentions) >= _LIST_RUN or list_cues:  # fewer parties and no cue: no list here
        runs = _runs(mentions, text)
        has_others = any(m.side == OTHER for m in mentions)
        for run in runs:
            parties = _parties(run)
            near_cue = any(
                run[0].start - _CUE_REACH <= c.start and c.end <= run[-1].end + _CUE_REACH
                for c in list_cues
            )
            run_sides = {m.side for m in run}
            # A list word binds to a run of one actor ("India among the rivals…") only when other
            # countries are named: "chains including Aeon" gives an example, not a list.
            listing = near_cue and run_sides != {OTHER} and (parties >= 2 or has_others)
            if parties < _LIST_RUN and not listing:
                continue
            if (
                {INDIA, JAPAN} <= run_sides
                and parties <= _GROUP_MAX
                and not near_cue
                and line.cues.get(RELATION)
            ):
                grouped = True  # "navies of India, Japan, the U.S. and Australia exercise…"
            else:
                for m in run:
                    m.listed = True
        if len({m.term for m in mentions if m.side == OTHER}) >= _LIST_OTHERS:
            for m in mentions:
                m.listed = True
    if not {INDIA, JAPAN} <= line.sides():
        return
    if runs is None:
        runs = _runs(mentions, text)
    sides = [m for m in mentions if m.side != OTHER]
    first, last = sides[0], sides[-1]
    if line.cues.get(SPORT):
        line.kind = "sport"
    elif (term := _comparing(line, text, first, last)) is not None:
        line.kind, line.detail = "comparison", term
    elif _parallel(line, text, sides):
        line.kind, line.detail = "comparison", "in parallel"
    elif any(first.start <= c.start <= last.end for c in line.cues.get(DESCRIPTOR, [])):
        line.kind = "label"
    elif not {INDIA, JAPAN} <= line.sides(listed=False) and not grouped:
        line.kind = "list"
    elif grouped:
        line.kind = "group"
    elif _distance(sides) > near_words:
        line.kind = "mentioned"
    elif line.cues.get(RELATION) and not _third_pair(runs):
        line.kind = "linked"
    elif any(
        len(run) >= 2
        and ({m.side for m in run} >= {INDIA, JAPAN} or BILATERAL in {m.side for m in run})
        and not _PLACE_BEFORE.search(text, 0, run[0].start)  # "rising seas in India and Japan"
        for run in runs
    ):
        line.kind = "coordinated"
    else:
        line.kind = "mentioned"


def _third_pair(runs: list[list[_Mention]]) -> bool:
    """One side stands here only together with a third party, apart from the other side ("The
    U.S. and India close in on a deal, Tokyo watches"): the relation word belongs to that pair."""
    for side in (INDIA, JAPAN):
        own = [run for run in runs if any(m.side in (side, BILATERAL) for m in run)]
        if own and all(
            any(m.side == OTHER for m in run) and not any(m.side not in (side, OTHER) for m in run)
            for run in own
        ):
            return True
    return False


def _distance(sides: list[_Mention]) -> int:
    """Fewest words between an India-side and a Japan-side mention of one sentence."""
    india = [m.word for m in sides if m.side in (INDIA, BILATERAL)]
    japan = [m.word for m in sides if m.side in (JAPAN, BILATERAL)]
    return min(abs(a - b) for a in india for b in japan)


@dataclass
class _Evidence:
    points: float
    text: str
    against: bool = False


def _quote(terms: Iterable[str], limit: int = 1) -> str:
    unique = list(dict.fromkeys(terms))
    shown = "…".join(repr(t) for t in unique[:limit])
    return shown + ("…" if len(unique) > limit else "")


_KIND_WORDS = {
    "linked": "linked by",
    "coordinated": "side by side as one subject",
    "group": "acting together in a small group",
    "mentioned": "named together",
    "list": "only as items of a list",
    "comparison": "compared",
    "sport": "in a sports fixture",
    "label": "one only as a label of the other",
}
_PLACE = {"title": "in the title", "lede": "in the lede", "body": "in the body"}


class _Case:
    """Article-level facts the evidence is built from."""

    def __init__(self, lines: list[_Line], body: int, others: _Others) -> None:
        self.lines = lines
        self.others = others
        clean = [(li, li.sides(listed=False)) for li in lines if li.mentions]
        self.seen = {side: [li for li, sides in clean if side in sides] for side in (INDIA, JAPAN)}
        self.title = {s for s in (INDIA, JAPAN) if any(li.where == "title" for li in self.seen[s])}
        self.lede = {s for s in (INDIA, JAPAN) if any(li.where == "lede" for li in self.seen[s])}
        self.pairs = [li for li in lines if li.kind is not None]
        self.bilateral = [(li, m) for li in lines for m in li.mentions if m.side == BILATERAL]
        self.body = body  # sentences in the body
        self.title_compares = others.title_compares

    @staticmethod
    def acts(line: _Line, side: str) -> int:
        """Relation words attached to (within a few words of) the side's actors in this
        sentence; none in a negated sentence ("models built in India are not affected")."""
        if _NEGATION.search(line.text):
            return 0
        words = [m.word for m in line.mentions if m.side in (side, BILATERAL) and not m.listed]
        return len(
            {
                c.start
                for c in line.cues.get(RELATION, ())
                if any(abs(c.word - w) <= _NEAR_CUE for w in words)
            }
        )

    def strong(self, line: _Line, side: str) -> bool:
        """The side takes part here, not in passing: it acts (a relation word attached), and
        is named twice or acts twice."""
        acts = self.acts(line, side)
        named = sum(1 for m in line.mentions if m.side in (side, BILATERAL) and not m.listed)
        return acts >= 2 or (acts >= 1 and named >= 2)


def _for(case: _Case) -> list[_Evidence]:
    evidence: list[_Evidence] = []
    if case.bilateral:
        line, mention = case.bilateral[0]
        points = 1.0 if line.kind in NEGATIVE_KINDS else BILATERAL_POINTS[line.where]
        evidence.append(_Evidence(points, f"bilateral term {mention.term!r} {_PLACE[line.where]}"))
    scored = sorted(
        ((PAIR_POINTS[li.kind][li.where], li) for li in case.pairs if li.kind in PAIR_POINTS),
        key=lambda pair: -pair[0],
    )
    best = scored[0][0] if scored else 0.0
    if scored:
        line = scored[0][1]
        how = _KIND_WORDS[line.kind or "mentioned"]
        if line.kind == "linked":
            how += f" {_quote(line.cue(RELATION))}"
        evidence.append(
            _Evidence(
                best,
                f"{_quote(line.terms(INDIA))}…{_quote(line.terms(JAPAN))} in one sentence, "
                f"{how} {_PLACE[line.where]}",
            )
        )
        further = min(sum(p for p, _ in scored[1:]) * FURTHER_PAIRS, FURTHER_CAP)
        if further:
            evidence.append(_Evidence(further, f"{len(scored) - 1} more sentences name both"))
    across = _across(case) if best < PAIR_POINTS["coordinated"]["lede"] else []
    evidence += across
    # Both sides throughout supports a link found above; on its own it is a comparison piece.
    linked = bool(case.bilateral or across or any(li.kind in LINKING_KINDS for _, li in scored))
    clean = {s: [li for li in case.seen[s] if li.kind not in NEGATIVE_KINDS] for s in case.seen}
    spread = min(len(clean[INDIA]), len(clean[JAPAN])) if linked else 0
    for need in sorted(SPREAD_POINTS, reverse=True):
        if spread >= need:
            evidence.append(_Evidence(SPREAD_POINTS[need], f"both sides in {spread} sentences"))
            break
    return evidence


def _with_third(line: _Line, side: str) -> bool:
    """The side is named here only beside a third party ("ties with Japan and the U.S.")."""
    runs = _runs(line.mentions, line.text)
    named = [run for run in runs if any(m.side in (side, BILATERAL) for m in run)]
    return bool(named) and all(any(m.side == OTHER for m in run) for run in named)


def _across(case: _Case) -> list[_Evidence]:
    """Evidence from different sentences: the title names one side and the lede the other, or
    one side is the story and an actor of the other takes part in it."""
    titles = [li for li in case.lines if li.where == "title" and li.kind not in NEGATIVE_KINDS]
    for side, other in ((INDIA, JAPAN), (JAPAN, INDIA)):
        if not titles or side not in case.title or other in case.title:
            continue
        lede = [
            li
            for li in case.seen[other]
            if li.where == "lede" and li.kind not in NEGATIVE_KINDS and not _with_third(li, other)
        ]
        if lede:
            points = CROSS_POINTS
            if titles[0].cue(RELATION) or lede[0].cue(RELATION):
                points += RELATION_BONUS
            return [
                _Evidence(
                    points,
                    f"the title names {_quote(titles[0].terms(side))}, the lede "
                    f"{_quote(lede[0].terms(other))}",
                )
            ]
    topic = [side for side in (INDIA, JAPAN) if side in case.title | case.lede]
    if len(topic) != 1:
        return []
    side = topic[0]
    other = JAPAN if side == INDIA else INDIA
    acting = [
        li
        for li in case.seen[other]
        if case.acts(li, other)
        and li.kind not in NEGATIVE_KINDS
        and not li.cue(DESCRIPTOR)
        and not _compares(li)  # "India imports more than it exports"
    ]
    if not acting:
        return []
    line = acting[0]
    points = PARTAKES_POINTS
    if len(case.seen[other]) >= 2 or case.strong(line, other):
        points += RELATION_BONUS
    story = next(li for li in case.seen[side] if li.where in ("title", "lede"))
    return [
        _Evidence(
            points,
            f"a story about {_quote(story.terms(side))} in which {_quote(line.terms(other))} "
            f"takes part ({_quote(line.cue(RELATION))})",
        )
    ]


def _against(case: _Case, ignored: list[str]) -> list[_Evidence]:
    evidence: list[_Evidence] = []
    for line in case.pairs:
        if line.kind not in NEGATIVE_KINDS:
            continue
        detail = ""
        if line.kind == "comparison":
            detail = f" ({line.detail!r})" if line.detail != "in parallel" else " (in parallel)"
        elif line.kind == "sport":
            detail = f" ({_quote(line.cue(SPORT))})"
        elif line.kind == "label":
            detail = f" ({_quote(line.cue(DESCRIPTOR))})"
        elif line.kind == "list":
            parties = sum(1 for m in line.mentions if m.listed)
            detail = f" of {parties} parties" if parties > 2 else ""
        evidence.append(
            _Evidence(
                0.0,
                f"{_PLACE[line.where]}, {_quote(line.terms(INDIA))}…{_quote(line.terms(JAPAN))} "
                f"{_KIND_WORDS[line.kind]}{detail}",
                against=True,
            )
        )
    framing = [li for li in case.lines if li.where in ("title", "lede")]
    sport = {c.start for li in framing if li.sides() for c in li.cues.get(SPORT, ())}
    if len(sport) >= _SPORT_WORDS and not case.bilateral:  # "Olympics-era veterans" is not sport
        evidence.append(_Evidence(SPORT_PENALTY, "a sports story", against=True))
    others = {m.term for li in case.lines for m in li.mentions if m.side == OTHER}
    others |= case.others.terms
    mentions = sum(len(li.mentions) for li in case.lines) + case.others.count
    sides = sum(1 for li in case.lines for m in li.mentions if m.side != OTHER and not m.listed)
    if len(others) >= _ROUNDUP_OTHERS and mentions and sides / mentions <= _ROUNDUP_SHARE:
        evidence.append(
            _Evidence(ROUNDUP_PENALTY, f"{len(others)} other countries named: a roundup", True)
        )
    if case.seen[INDIA] and case.seen[JAPAN] and case.body >= _PASSING_MIN_SENTENCES:
        for side in (INDIA, JAPAN):
            only = case.seen[side]
            line = only[0]
            transaction = line.kind == "linked" and len({c.start for c in line.cues[RELATION]}) >= 2
            if (
                len(only) == 1
                and line.where == "body"
                and not case.bilateral
                and not case.strong(line, side)
                and not transaction  # "signed an offtake deal … in Odisha … alongside JBIC"
            ):
                evidence.append(
                    _Evidence(
                        PASSING_PENALTY,
                        f"{_quote(only[0].terms(side))} named once, in passing",
                        against=True,
                    )
                )
    evidence += _other_pair(case)
    comparisons = [li for li in case.pairs if li.kind == "comparison"]
    # A title that compares ("two weak currencies, two different stories") frames the piece even
    # when it names neither side.
    linking = any(li.kind in LINKING_KINDS for li in case.pairs)
    if case.title_compares and case.seen[INDIA] and case.seen[JAPAN]:
        evidence.append(_Evidence(TITLE_COMPARISON_PENALTY, "the title compares", against=True))
    elif len(comparisons) >= 2 or (
        not linking and any(li.where == "lede" for li in comparisons)
    ):  # compared twice, or in the lede with nothing linking them anywhere
        evidence.append(_Evidence(COMPARISON_PENALTY, "framed as a comparison", against=True))
    for text in ignored:
        evidence.append(_Evidence(0.0, f"{text} (false friend)", against=True))
    return evidence


def _other_pair(case: _Case) -> list[_Evidence]:
    """The title is about one side and a third party ("India-EU free trade agreement"), not
    about the other side."""
    title = next((li for li in case.lines if li.where == "title"), None)
    if title is None or len(case.title) != 1:
        return []
    side = next(iter(case.title))
    others = [m for m in title.mentions if m.side == OTHER]
    if not others:
        return []
    together = any(
        {m.side for m in run} >= {side, OTHER} for run in _runs(title.mentions, title.text)
    )
    if not together and not title.cue(RELATION):
        return []
    return [
        _Evidence(
            OTHER_PAIR_PENALTY,
            f"the title is about {_quote(title.terms(side))} and {others[0].term!r}",
            against=True,
        )
    ]


def assess(
    sentences: list[Sentence], texts: list[str], hits: list[Hit], near_words: int = 40
) -> Verdict:
    """Judge relevance from an article's sentences, their normalized texts and its term hits."""
    others = _Others()
    lines, ignored, sector_seen = _lines(sentences, texts, hits, others)
    for line in lines:
        _classify(line, line.text, near_words)
    case = _Case(lines, sum(1 for s in sentences if s.field != "title"), others)
    evidence = _for(case) + _against(case, ignored)
    points = round(sum(e.points for e in evidence), 2)
    relevant = points >= THRESHOLD
    score = _score(points)
    plausible = sector_seen or any(li.sides() for li in lines)
    return Verdict(relevant, score, _reason(relevant, points, evidence, case), plausible)


def _score(points: float) -> float:
    """Points as 0..1: relevant articles 0.55–1 (1 at FULL_SCORE points above the threshold),
    the others 0–0.45, so `min_relevance` filters read as before."""
    if points >= THRESHOLD:
        return round(0.55 + 0.45 * min(1.0, (points - THRESHOLD) / FULL_SCORE), 3)
    return round(0.45 * max(0.0, points) / THRESHOLD, 3)


def _reason(
    relevant: bool, points: float, evidence: list[_Evidence], case: _Case
) -> dict[str, Any]:
    pro = sorted((e for e in evidence if not e.against), key=lambda e: -e.points)
    con = sorted((e for e in evidence if e.against), key=lambda e: e.points)
    names = {
        side: sorted({m.term for li in case.lines for m in li.mentions if m.side == side})
        for side in (INDIA, JAPAN, BILATERAL)
    }
    india, japan = names[INDIA], names[JAPAN]
    if not india and not japan and not names[BILATERAL]:
        # the sides are named after their feeds.yaml keys
        rule, summary = "none", f"no {INDIA.title()}-side or {JAPAN.title()}-side terms"
    elif not names[BILATERAL] and (not india or not japan):
        side = (INDIA if india else JAPAN).title()
        rule = "one-sided"
        summary = f"only {side}-side terms ({_quote(india or japan, 3)})"
        if con:
            summary += "; " + con[0].text
    elif relevant:
        top = pro[0].text
        rule = (
            "bilateral" if top.startswith("bilateral term")
            else "near" if "in one sentence" in top
            else "salience"
        )  # fmt: skip
        summary = "; ".join(e.text for e in pro[:3])
        summary += "; but " + con[0].text if con else "; not a list, comparison or sports item"
    else:
        rule = _negative_rule(con)
        parts = [e.text for e in con[:2]]
        if pro:
            parts.append("for it only: " + pro[0].text)
        summary = "; ".join(parts) if parts else "the two sides are never linked"
    return {
        "relevant": relevant,
        "rule": rule,
        "text": summary,
        "points": points,
        "threshold": THRESHOLD,
        "for": [f"{e.text} (+{e.points:g})" for e in pro],
        "against": [e.text + (f" ({e.points:g})" if e.points else "") for e in con],
        "india": india,
        "japan": japan,
        "bilateral": names[BILATERAL],
    }


def _negative_rule(con: list[_Evidence]) -> str:
    for word, rule in (
        ("sports", "sport"),
        ("roundup", "list"),
        ("list", "list"),
        ("compar", "comparison"),
        ("passing", "passing"),
        ("label", "passing"),
        ("false friend", "false-friend"),
    ):
        if any(word in e.text for e in con):
            return rule
    return "weak"
