"""An article as the judge reads it: the title, then the body's sentences, each knowing its field,
paragraph and whether it is part of the lede.

Reads: an article's title, summary and text. Writes: nothing.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from monitor.judge.terms import normalize

# A sentence ends at . ! or ? (and any closing quote or bracket) followed by space and what can
# start a sentence. Abbreviations are glued back afterwards: cheaper than a lookbehind per length.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "no",
        "nos",
        "rs",
        "sr",
        "jr",
        "gen",
        "lt",
        "col",
        "capt",
        "cmdr",
        "adm",
        "prof",
        "inc",
        "co",
        "corp",
        "ltd",
        "vs",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "gov",
        "sen",
        "rep",
        "shri",
        "smt",
        "dept",
        "govt",
        "approx",
        "u.s",
        "u.k",
        "u.n",
        "e.u",
        "u.a.e",
        "p.m",
        "a.m",
    ]
)
LEDE_SENTENCES = 2  # the lede: the first two sentences of the body
# A piece about its subject says so in its first thousand words or so; the rest of a long
# report adds cost (every sentence is matched and weighed), not evidence.
MAX_BODY_SENTENCES = 50
_SUMMARY_PROBE = 80  # characters of the summary looked for at the start of the text


class Sentence(NamedTuple):
    field: str  # "title", "summary" or "text"
    paragraph: int  # 0 for the title; the body's paragraphs count from 1
    lede: bool  # one of the body's first LEDE_SENTENCES sentences
    raw: str


def _glue(pieces: list[str]) -> list[str]:
    """Undo splits after abbreviations and initials ("Mr. Modi", "P.V. Sindhu")."""
    out: list[str] = []
    for piece in pieces:
        if out:
            last = out[-1].rsplit(None, 1)[-1].rstrip(".").lower()
            if last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
                out[-1] = f"{out[-1]} {piece}"
                continue
        out.append(piece)
    return out


def split_sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph (no line breaks inside)."""
    paragraph = paragraph.strip()
    if not paragraph:
        return []
    return _glue(_SENTENCE_END.split(paragraph))


def _body(summary: str, text: str) -> list[tuple[str, str]]:
    """(field, paragraph) pairs of the body. A summary that only repeats the text's opening is
    read once, as part of the text."""
    summary, text = summary.strip(), text.strip()
    if summary and text:
        probe = normalize(summary[:_SUMMARY_PROBE])
        if probe and probe in normalize(text[: len(summary) + 200]):
            summary = ""
    out = [("summary", p) for p in summary.split("\n") if p.strip()]
    out += [("text", p) for p in text.split("\n") if p.strip()]
    return out


def read(title: str, summary: str, text: str) -> list[Sentence]:
    """The title (if any) and the body, sentence by sentence, in reading order, up to
    MAX_BODY_SENTENCES sentences of the body."""
    sentences: list[Sentence] = []
    if title.strip():
        sentences.append(Sentence("title", 0, False, title.strip()))
    body = 0
    for number, (field, paragraph) in enumerate(_body(summary, text), start=1):
        for raw in split_sentences(paragraph):
            if body == MAX_BODY_SENTENCES:
                return sentences
            sentences.append(Sentence(field, number, body < LEDE_SENTENCES, raw))
            body += 1
    return sentences
