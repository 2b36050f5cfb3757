"""Entries: a feed body split into its items (RSS) or entries (Atom) by bytes, before any parser
runs, so that the entries a feed held the last time it was read are recognised and skipped.

Reads: feed bytes, and the records a feed row keeps of its last body. Writes: nothing. The split
gives up (None) whenever it is not certain of the entries' bounds; the body is then parsed whole.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

# Part of every digest: bump it when parsing or judging changes what an entry's bytes yield.
VERSION = b"entries-1"

# What an entry became when it was read. A later full parse would count it the same way, so
# the poll report is the same whether the entry is parsed again or recognised.
DUPLICATE = b"d"  # stored, or the same story as a stored one
IRRELEVANT = b"i"  # judged not India–Japan, or excluded by URL
NO_ARTICLE = b"x"  # no usable link: never an article

_RECORD = struct.Struct("<16sqqqc")  # digest, key hash, guid hash, published (s), kind
_UNDATED = -(2**63)

_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_ENTRY_NAMES = {b"rss": b"item", b"RDF": b"item", b"feed": b"entry"}
# The markup that matters between entries: an entry's tags, and what may hide a fake one.
_MARK = re.compile(rb"<(?:!\[CDATA\[|!--|\?|(/?)((?:[A-Za-z_][\w.-]*:)?(?:item|entry))(?=[\s/>]))")
_TAG = re.compile(rb"""<(/?)([A-Za-z_][\w.:-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_DOCTYPE = re.compile(rb"<!DOCTYPE(?:[^\[>]|\[[^\]]*\])*>", re.IGNORECASE)
_LANGUAGE = re.compile(rb"<(?:[\w.-]+:)?language\b[^>]*>([^<]{0,100})<")
_ENDS = {b"<![CDATA[": b"]]>", b"<!--": b"-->", b"<?": b"?>"}


@dataclass(frozen=True, slots=True)
class Split:
    """A body cut into the bytes around its entries and the entries themselves."""

    body: bytes
    spans: list[tuple[int, int]]  # each entry's [start, end) in body, in document order
    digests: list[bytes]  # each entry's digest: its bytes read in this feed's context

    def without(self, drop: Iterable[int]) -> bytes:
        """The body with the entries at these indexes cut out (the rest byte for byte)."""
        parts, at = [], 0
        for i in sorted(set(drop)):
            start, end = self.spans[i]
            parts.append(self.body[at:start])
            at = end
        parts.append(self.body[at:])
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class Record:
    """What one entry of a feed's last body was: its digest and what it became."""

    digest: bytes
    key: int  # hash of the article's URL key (0: no article)
    guid: int  # hash of its guid (0: none)
    published: int | None  # its own publication date, seconds since the epoch (UTC)
    kind: bytes  # DUPLICATE, IRRELEVANT or NO_ARTICLE

    @property
    def published_at(self) -> datetime | None:
        if self.published is None:
            return None
        return datetime.fromtimestamp(self.published, UTC)


def short_hash(value: str | None) -> int:
    """A stable 64-bit hash of a key or guid (0 for none); equal values, equal hashes."""
    if not value:
        return 0
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "little") | 1


def dump(records: Sequence[Record]) -> bytes:
    packed = []
    for r in records:
        published = _UNDATED if r.published is None else r.published
        packed.append(_RECORD.pack(r.digest, _signed(r.key), _signed(r.guid), published, r.kind))
    return b"".join(packed)


def load(data: bytes | None) -> dict[bytes, Record]:
    """The records of a feed's last body by digest; unreadable data is no records at all."""
    if not data or len(data) % _RECORD.size:
        return {}
    out = {}
    for digest, key, guid, published, kind in _RECORD.iter_unpack(data):
        out[digest] = Record(
            digest, key & (2**64 - 1), guid & (2**64 - 1),
            None if published == _UNDATED else published, kind,
        )  # fmt: skip
    return out


def split(body: bytes, context: bytes) -> Split | None:
    """The body's entries and their digests, or None when their bounds are not certain.

    `context` names everything outside the body that changes what an entry's bytes yield (the
    feed's URL and content type, the source's settings, the judge's rules). Inside the body,
    the prolog, the start tags of the entries' ancestors (namespaces, xml:base, xml:lang) and
    the feed's language are added to it: the channel's changing dates are not.
    """
    if body.startswith(_BOMS) or b"\x00" in body[:400]:
        return None  # UTF-16/32: bytes are not ASCII-compatible markup
    first = _next_entry_tag(body, 0)
    if first is None:
        return None
    header = _header(body, first[0])
    if header is None:
        return None
    prolog, ancestors, root = header
    name = _ENTRY_NAMES.get(root.rpartition(b":")[2])
    if name is None or first[2].rpartition(b":")[2] != name:
        return None
    language = _LANGUAGE.search(body, 0, first[0])
    base = hashlib.blake2b(digest_size=16)
    for part in (VERSION, context, prolog, *ancestors, language.group(1) if language else b""):
        base.update(len(part).to_bytes(4, "little"))
        base.update(part)
    spans: list[tuple[int, int]] = []
    digests: list[bytes] = []
    view = memoryview(body)
    pos, opened = first[0], -1
    while (found := _next_entry_tag(body, pos)) is not None:
        start, end, qname, closing = found
        if qname != first[2]:
            return None  # items and entries mixed, or differently prefixed
        if not closing:
            if opened >= 0 or body[end - 2 : end - 1] == b"/":
                return None  # nested, or an empty <item/>
            opened = start
        else:
            if opened < 0:
                return None
            spans.append((opened, end))
            digest = base.copy()
            digest.update(view[opened:end])
            digests.append(digest.digest())
            opened = -1
        pos = end
    if opened >= 0 or not spans:
        return None
    return Split(body, spans, digests)


def _next_entry_tag(body: bytes, pos: int) -> tuple[int, int, bytes, bool] | None:
    """The next entry start or end tag from pos: (start, end, qualified name, is_end), skipping
    CDATA sections, comments and processing instructions; None at the end or when unsure."""
    while (m := _MARK.search(body, pos)) is not None:
        if m.group(2) is None:  # CDATA, a comment or a PI: jump over it
            opener = m.group(0)
            close = body.find(_ENDS[opener], m.end())
            if close < 0:
                return None
            pos = close + len(_ENDS[opener])
            continue
        tag = _TAG.match(body, m.start())
        if tag is None:
            return None
        return m.start(), tag.end(), m.group(2), bool(m.group(1))
    return None


def _header(body: bytes, until: int) -> tuple[bytes, list[bytes], bytes] | None:
    """The prolog (XML declaration, doctype), the start tags open where the first entry begins,
    and the root element's name; None when the markup before it cannot be followed."""
    stack: list[tuple[bytes, bytes]] = []
    prolog_end = -1
    pos = 0
    while (lt := body.find(b"<", pos, until)) >= 0:
        for opener, closer in _ENDS.items():
            if body.startswith(opener, lt):
                close = body.find(closer, lt + len(opener))
                if close < 0:
                    return None
                pos = close + len(closer)
                break
        else:
            if body.startswith(b"<!", lt):
                doctype = _DOCTYPE.match(body, lt)
                if doctype is None or stack:
                    return None
                pos = doctype.end()
                continue
            tag = _TAG.match(body, lt)
            if tag is None:
                return None
            pos = tag.end()
            closing, name, attrs = tag.group(1), tag.group(2), tag.group(3)
            if closing:
                if not stack or stack[-1][0] != name:
                    return None
                stack.pop()
            elif not attrs.endswith(b"/"):
                if not stack and prolog_end < 0:
                    prolog_end = lt
                elif not stack:
                    return None  # a second root element
                stack.append((name, tag.group(0)))
    if not stack:
        return None
    return body[: max(prolog_end, 0)], [start for _, start in stack], stack[0][0]


def _signed(value: int) -> int:
    return value - 2**64 if value >= 2**63 else value
