"""HTML built so that nothing from the web reaches a page unescaped: Html marks markup we wrote,
every other value is escaped when it is put into a template.

Reads/writes: nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from monitor.judge.rules import And, Node, Not, Or, Query, Term


class Html(str):
    """Markup the web view wrote itself (already escaped)."""

    __slots__ = ()


# Bidirectional overrides and isolates can make a title display as another (a spoofed
# file name or outlet): they are dropped from everything shown.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def clean(value: object) -> str:
    """Text without control characters (but newlines and tabs) and bidi overrides."""
    text = "" if value is None else str(value)
    return "".join(c for c in _BIDI.sub("", text) if c in "\n\t" or unicodedata.category(c) != "Cc")


def esc(value: object) -> Html:
    if isinstance(value, Html):
        return value
    return Html(escape(clean(value), quote=True))


def render(template: str, **values: object) -> Html:
    """`template` with each {name} filled by its value, escaped unless it is Html."""
    return Html(template.format(**{k: esc(v) for k, v in values.items()}))


def join(parts: Iterable[Html], sep: str = "") -> Html:
    return Html(sep.join(esc(p) for p in parts))


def safe_href(url: str) -> str | None:
    """A link to an article's outlet only when it is http(s): never javascript:, data: …"""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def href(path: str, **params: object) -> str:
    """A path on this site with its query string (empty and None values left out)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs += [(key, str(v)) for v in values if v not in (None, "")]
    return f"{path}?{urlencode(pairs)}" if pairs else path


def when(value: datetime | None) -> Html:
    """A time in UTC, which /static/local-time.js rewrites into the viewer's own time zone."""
    if value is None:
        return Html("—")
    iso = value.isoformat().replace("+00:00", "Z")
    return render(
        '<time datetime="{iso}" data-local>{text} UTC</time>',
        iso=iso,
        text=value.strftime("%Y-%m-%d %H:%M"),
    )


def positive_terms(query: Query | None) -> list[str]:
    """The terms a match must contain (not those under NOT): what to highlight."""
    found: list[str] = []

    def walk(node: Node | None) -> None:
        if isinstance(node, Term):
            found.append(node.text)
        elif isinstance(node, And | Or):
            for child in node.children:
                walk(child)
        elif isinstance(node, Not):
            return

    walk(query.root if query else None)
    return found


_SEPARATOR = r"[\s\-\u2010-\u2015\u2212]+"


def term_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for the terms as rules read them: any case, whole words, hyphens, dashes and
    spaces alike, a trailing * for a prefix."""
    parts = []
    for term in sorted(set(terms), key=len, reverse=True):
        prefix = term.endswith("*")
        words = [w for w in re.split(_SEPARATOR, term.rstrip("*")) if w]
        if not words:
            continue
        body = _SEPARATOR.join(re.escape(w) for w in words)
        tail = r"\w*" if prefix else ""
        parts.append(rf"(?<!\w){body}{tail}(?!\w)")
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def highlight(text: str, pattern: re.Pattern[str] | None) -> Html:
    """The text escaped, with every match of the pattern in <mark>."""
    if pattern is None:
        return esc(text)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(esc(text[last : match.start()]))
        out.append(render("<mark>{m}</mark>", m=match.group(0)))
        last = match.end()
    out.append(esc(text[last:]))
    return Html("".join(out))


def snippet(text: str, pattern: re.Pattern[str] | None, width: int = 240) -> str:
    """Up to `width` characters of the text around its first match (its start otherwise)."""
    text = " ".join(text.split())
    first = pattern.search(text) if pattern else None
    start = max(0, first.start() - width // 3) if first else 0
    cut = text[start : start + width]
    return ("…" if start else "") + cut + ("…" if start + width < len(text) else "")


NAV = (
    ("/search", "Search"),
    ("/stories", "Stories"),
    ("/trends", "Trends"),
    ("/sources", "Sources"),
    ("/rules/try", "Rule preview"),
)


_EMPTY = Html("")


def page(title: str, body: Html, *, active: str = "", head: Html = _EMPTY) -> Html:
    """A whole page: no inline script or style (the Content-Security-Policy forbids them)."""
    nav = join(
        render(
            '<a href="{path}"{current}>{label}</a>',
            path=path,
            label=label,
            current=Html(' aria-current="page"') if path == active else Html(""),
        )
        for path, label in NAV
    )
    return render(
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{title} · India–Japan News Monitor</title>"
        '<link rel="stylesheet" href="/static/style.css">'
        '<script src="/static/local-time.js" defer></script>{head}</head>'
        '<body><header><a class="brand" href="/search">India–Japan News Monitor</a>'
        "<nav>{nav}</nav></header><main><h1>{title}</h1>{body}</main>"
        "<footer>Read-only view · times in your time zone (UTC without JavaScript)</footer>"
        "</body></html>\n",
        title=title,
        head=head,
        nav=nav,
        body=body,
    )


def table(headers: Iterable[str], rows: Iterable[Iterable[Any]], cls: str = "") -> Html:
    head = join(render("<th>{h}</th>", h=h) for h in headers)
    body = join(
        render("<tr>{cells}</tr>", cells=join(render("<td>{c}</td>", c=c) for c in row))
        for row in rows
    )
    return render(
        '<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead>'
        "<tbody>{body}</tbody></table></div>",
        cls=cls,
        head=head,
        body=body,
    )
