"""One-pass term matching shared by relevance, sector tagging (and later alert rules).

Reads: term lists from the config and article text. Writes: nothing. All terms of all groups live
in one Aho-Corasick automaton, so matching costs one scan of the text however many terms there are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import ahocorasick

# Hyphens, dashes, underscores and whitespace are one separator: "India–Japan" == "india japan".
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212_]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
FIELD_SEPARATOR = " | "  # no term contains "|", so no match can span two fields


def normalize(text: str) -> str:
    """The form both terms and texts are matched in: lower case, one space between words."""
    return _SEPARATORS.sub(" ", text.translate(_APOSTROPHES).lower()).strip()


@dataclass(frozen=True, slots=True)
class Hit:
    group: str  # e.g. "india", "japan", "bilateral", "sector:space"
    term: str  # the term as written in the config
    field: str  # which field of the article it was found in
    word: int  # word index in the whole article, for proximity


@dataclass(frozen=True, slots=True)
class _Entry:
    length: int
    prefix: bool
    owners: tuple[tuple[str, str], ...]  # (group, term as written)


class TermMatcher:
    """Matches many groups of terms in one pass; word-boundary, case- and dash-insensitive."""

    def __init__(self, groups: Mapping[str, Iterable[str]]) -> None:
        entries: dict[tuple[str, bool], list[tuple[str, str]]] = {}
        for group, terms in groups.items():
            for term in terms:
                prefix = term.endswith("*")
                base = normalize(term.rstrip("*"))
                variants = {base}
                if any(c in term for c in "-\u2010\u2011\u2012\u2013\u2014"):
                    # "e-commerce" also matches "ecommerce"
                    variants.add(normalize(re.sub(r"[\-\u2010-\u2015]", "", term.rstrip("*"))))
                for variant in variants:
                    if variant:
                        owners = entries.setdefault((variant, prefix), [])
                        if (group, term) not in owners:
                            owners.append((group, term))
        self._automaton = ahocorasick.Automaton()
        by_key: dict[str, list[_Entry]] = {}
        for (variant, prefix), owners in entries.items():
            by_key.setdefault(variant, []).append(_Entry(len(variant), prefix, tuple(owners)))
        for key, values in by_key.items():
            self._automaton.add_word(key, tuple(values))
        self.empty = not by_key
        if not self.empty:
            self._automaton.make_automaton()

    def find(self, fields: Iterable[tuple[str, str]]) -> list[Hit]:
        """All hits in the named text fields, in text order; a term hit twice is reported twice."""
        names: list[str] = []
        starts: list[int] = []
        parts: list[str] = []
        offset = 1
        for name, text in fields:
            norm = normalize(text)
            names.append(name)
            starts.append(offset)
            parts.append(norm)
            offset += len(norm) + len(FIELD_SEPARATOR)
        haystack = " " + FIELD_SEPARATOR.join(parts) + " "
        if self.empty:
            return []
        hits: list[Hit] = []
        for end, values in self._automaton.iter(haystack):
            for entry in values:
                start = end - entry.length + 1
                if haystack[start - 1].isalnum():
                    continue
                if not entry.prefix and haystack[end + 1].isalnum():
                    continue
                field_index = _field_at(starts, start)
                word = haystack.count(" ", 0, start)
                for group, term in entry.owners:
                    hits.append(Hit(group, term, names[field_index], word))
        return hits


def _field_at(starts: list[int], position: int) -> int:
    index = 0
    for i, start in enumerate(starts):
        if start <= position:
            index = i
    return index
