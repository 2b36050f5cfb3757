"""One-pass term matching shared by relevance, sector tagging (and later alert rules).

Reads: term lists from the config and article text. Writes: nothing. All terms of all groups live
in one Aho-Corasick automaton, so matching costs one scan of the text however many terms there are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import ahocorasick

# Hyphens, dashes, underscores and whitespace are one separator: "India–Japan" == "india japan".
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212_"
_APOSTROPHES = ("\u2019", "\u2018", "\u02bc")
FIELD_SEPARATOR = " | "  # no term contains "|", so no match can span two fields


def normalize(text: str) -> str:
    """The form both terms and texts are matched in: lower case, one space between words."""
    # str.replace and str.split run in C; str.translate with a table and a regex substitution
    # per space cost 20 times more on a long article.
    text = text.lower()
    for mark in _APOSTROPHES:
        if mark in text:
            text = text.replace(mark, "'")
    for dash in _DASHES:
        if dash in text:
            text = text.replace(dash, " ")
    return " ".join(text.split())


class Hit(NamedTuple):  # a tuple: hundreds are made per long article
    group: str  # e.g. "india", "japan", "bilateral", "sector:space"
    term: str  # the term as written in the config
    field: str  # which field of the article it was found in
    word: int  # word index in the whole article, for proximity
    part: int = 0  # index of the field in the fields given to find()
    start: int = 0  # character span in that field's normalized text (normalize())
    end: int = 0


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
            # plain tuples: the scan loop unpacks them for every match
            self._automaton.add_word(key, tuple((e.length, e.prefix, e.owners) for e in values))
        self.empty = not by_key
        if not self.empty:
            self._automaton.make_automaton()

    def find(self, fields: Iterable[tuple[str, str]]) -> list[Hit]:
        """All hits in the named text fields, in text order; a term hit twice is reported twice."""
        return self.scan(fields)[1]

    def scan(self, fields: Iterable[tuple[str, str]]) -> tuple[list[str], list[Hit]]:
        """The fields' normalized texts (what Hit.start/end index) and all hits, as find()."""
        names: list[str] = []
        raw: list[str] = []
        for name, text in fields:
            names.append(name)
            raw.append(text)
        # One normalize() call for all fields (a judge passes every sentence as a field): NUL
        # survives it and plaintext.py has already removed any NUL from the texts.
        joined = "\x00".join(raw)
        if joined.count("\x00") != len(raw) - 1:
            parts = [normalize(text) for text in raw]
        else:
            parts = [part.strip() for part in normalize(joined).split("\x00")]
        starts: list[int] = []
        offset = 1
        for part in parts:
            starts.append(offset)
            offset += len(part) + len(FIELD_SEPARATOR)
        if self.empty:
            return parts, []
        haystack = " " + FIELD_SEPARATOR.join(parts) + " "
        hits: list[Hit] = []
        append, count, size = hits.append, haystack.count, len(haystack)
        ends = [*starts[1:], size]  # where each part's separator begins
        last_part = len(parts) - 1
        index = 0
        # Word index = spaces before the hit, counted incrementally: hits come in order of their
        # end, so their starts move forward except by at most one term's length.
        word = counted = 0
        for end, values in self._automaton.iter(haystack):
            for length, prefix, owners in values:
                start = end - length + 1
                if haystack[start - 1].isalnum():
                    continue
                if not prefix and haystack[end + 1].isalnum():
                    continue
                if start >= counted:
                    word += count(" ", counted, start)
                else:
                    word -= count(" ", start, counted)
                counted = start
                while index < last_part and start >= ends[index]:
                    index += 1
                while index and start < starts[index]:
                    index -= 1
                base = starts[index]
                stop = end + 1
                if prefix:  # a prefix term covers the rest of its word
                    while stop < size and haystack[stop].isalnum():
                        stop += 1
                name, first, last = names[index], start - base, stop - base
                for group, term in owners:
                    append(Hit(group, term, name, word, index, first, last))
        return parts, hits
