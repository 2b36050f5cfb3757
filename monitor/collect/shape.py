"""Refuses documents no news page or feed has, before a parser spends minutes on them.

Reads: raw markup (HTML or XML, as text or bytes). Writes: nothing. One linear scan over the
tags: nesting deeper than a browser's parser allows (WebKit stops at 512), or more elements
than any article page carries, is a hostile or broken document, refused with a reason.
"""

from __future__ import annotations

import re

MAX_DEPTH = 512  # WebKit's HTML parser cap; real pages nest a few dozen deep
MAX_ELEMENTS = 200_000  # a long article page has a few thousand

_TAG = re.compile(rb"<(/?)([A-Za-z][A-Za-z0-9:-]{0,40})(?:[^>\"']|\"[^\"]*\"|'[^']*')*?(/?)>")
# Elements that nest and are closed explicitly in real markup; p, li, td, option… are often
# left open and would make a plain page look deep.
_CONTAINERS = frozenset(
    b"div section article main aside header footer nav span table tbody thead ul ol dl "
    b"blockquote form a b i em strong font center figure figcaption label button".split()
)


def problem(markup: str | bytes) -> str | None:
    """Why the document is refused, or None."""
    data = markup.encode("utf-8", "replace") if isinstance(markup, str) else markup
    depth = deepest = elements = 0
    for match in _TAG.finditer(data):
        elements += 1
        if elements > MAX_ELEMENTS:
            return f"more than {MAX_ELEMENTS} elements"
        name = match.group(2).lower()
        if name not in _CONTAINERS or match.group(3):
            continue
        if match.group(1):
            depth = max(depth - 1, 0)
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_DEPTH:
                return f"elements nested more than {MAX_DEPTH} deep"
    return None
