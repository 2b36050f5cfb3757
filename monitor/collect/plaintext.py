"""Turns untrusted HTML fragments (feed descriptions, page bodies) into plain text.

Reads: an HTML or text string. Writes: nothing. Scripts, styles and markup are dropped, entities
decoded, control characters removed; block boundaries become line breaks.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

# A line break before every block-level tag keeps "<p>one</p><p>two</p>" from becoming "onetwo".
_BLOCK_TAG = re.compile(
    r"<(?=/?(?:p|div|br|li|h[1-6]|tr|td|th|blockquote|ul|ol|dl|dt|dd|table|section|article"
    r"|header|footer|figure|figcaption|pre|hr|aside|nav)\b)",
    re.IGNORECASE,
)
_DROP = ["script", "style", "noscript", "iframe", "svg", "template", "object", "embed", "head"]
# C0/C1 controls, bidi overrides and zero-width characters except tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment: paragraphs on separate lines, no markup, no controls."""
    if not fragment:
        return ""
    if "<" in fragment or "&" in fragment:
        tree = LexborHTMLParser(_BLOCK_TAG.sub("\n<", fragment))
        tree.strip_tags(_DROP)
        fragment = tree.text(separator="") or ""
    return clean_text(fragment)


def clean_text(text: str) -> str:
    """Remove control characters and collapse whitespace, keeping single line breaks."""
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n", text).strip()


def one_line(text: str) -> str:
    """Text safe for a single-line field (titles, authors): no line breaks at all."""
    return " ".join(clean_text(text).split())
