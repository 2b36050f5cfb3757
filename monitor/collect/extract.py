"""Article-page extraction: JSON-LD, then meta tags, then the site's markup, then trafilatura.

Reads: one article page's HTML (untrusted) and its URL. Writes: nothing; returns an Extracted with
plain-text fields, an aware UTC date and a note of which source gave the body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura
from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.collect.dates import parse_date
from monitor.collect.plaintext import clean_text, html_to_text, one_line

MAX_TITLE = 1000
MAX_TEXT = 200_000
MAX_DESCRIPTION = 5000
MAX_AUTHOR = 500
MAX_SECTION = 200
MAX_KEYWORDS = 50
MAX_KEYWORD = 100
MAX_SITE_ID = 200
MAX_URL = 2000

ARTICLE_TYPES = frozenset({"newsarticle", "article", "reportagenews", "blogposting"})
_MAX_JSONLD_NODES = 2000  # a hostile page could nest objects without end
_MAX_JSONLD_CHARS = 2_000_000

_DROP_ALWAYS = ("script", "style", "noscript", "template", "iframe", "svg")


@dataclass
class Extracted:
    url: str | None  # canonical link (link[rel=canonical] / og:url / JSON-LD url), else None
    title: str  # one line, plain text
    description: str  # plain text
    text: str  # plain text body (may be only the open part on paywalled pages)
    author: str | None  # "A, B" for several
    published_at: datetime | None  # aware, UTC
    section: str | None
    keywords: list[str] = field(default_factory=list)
    site_id: str | None = None  # e.g. JT cXenseParse:articleid, WordPress shortlink
    method: str = "none"  # which source gave the body: "jsonld" | "site" | "trafilatura" | "none"


# --- JSON-LD ------------------------------------------------------------------------------


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.lower() for k in kinds if isinstance(k, str)}


def _walk_jsonld(data: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in the document, breadth-first, through lists and @graph."""
    queue: list[Any] = [data]
    seen = 0
    while queue and seen < _MAX_JSONLD_NODES:
        item = queue.pop(0)
        seen += 1
        if isinstance(item, list):
            queue.extend(item)
        elif isinstance(item, dict):
            yield item
            graph = item.get("@graph")
            if isinstance(graph, list | dict):
                queue.append(graph)


def _jsonld_article(tree: LexborHTMLParser) -> dict[str, Any] | None:
    for script in tree.css("script"):
        kind = (script.attributes.get("type") or "").lower()
        if not kind.startswith("application/ld+json"):
            continue
        raw = (script.text(deep=True) or "").strip()
        if not raw or len(raw) > _MAX_JSONLD_CHARS:
            continue
        try:
            data = json.loads(raw, strict=False)
        except (ValueError, RecursionError):
            continue
        for obj in _walk_jsonld(data):
            if _types(obj) & ARTICLE_TYPES:
                return obj
    return None


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _names(value: Any) -> list[str]:
    """Author names from a string, a {"name": ...} object or a list of either."""
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items[:MAX_KEYWORDS]:
        name = item.get("name") if isinstance(item, dict) else item
        text = one_line(html_to_text(_str(name)))
        if text:
            names.append(text)
    return names


def _keyword_list(value: Any) -> list[str]:
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, list):
        parts = [_str(v) for v in value]
    else:
        return []
    return [one_line(html_to_text(p))[:MAX_KEYWORD] for p in parts]


def _first_str(value: Any) -> str:
    if isinstance(value, list):
        return next((s for s in (_str(v) for v in value) if s.strip()), "")
    return _str(value)


def _jsonld_url(obj: dict[str, Any]) -> str:
    url = _str(obj.get("url"))
    if url:
        return url
    page = obj.get("mainEntityOfPage")
    if isinstance(page, dict):
        return _str(page.get("@id")) or _str(page.get("url"))
    return _str(page)


def _is_free(obj: dict[str, Any]) -> bool:
    flag = obj.get("isAccessibleForFree")
    return not (flag is False or (isinstance(flag, str) and flag.strip().lower() == "false"))


# --- meta tags and markup -----------------------------------------------------------------


def _metas(tree: LexborHTMLParser) -> dict[str, list[str]]:
    """content of every <meta>, keyed by lower-cased property / name / itemprop."""
    found: dict[str, list[str]] = {}
    for node in tree.css("meta"):
        attrs = node.attributes
        content = attrs.get("content")
        if content is None:
            continue
        for key_attr in ("property", "name", "itemprop"):
            key = attrs.get(key_attr)
            if key:
                found.setdefault(key.strip().lower(), []).append(content)
    return found


def _meta(metas: dict[str, list[str]], *keys: str) -> str:
    for key in keys:
        for value in metas.get(key, ()):
            if value.strip():
                return value
    return ""


def _node_line(node: LexborNode) -> str:
    return one_line(html_to_text(node.html or ""))


def _selected_line(tree: LexborHTMLParser, selectors: Sequence[str]) -> str:
    for selector in selectors:
        for node in tree.css(selector):
            text = _node_line(node)
            if text:
                return text
    return ""


def _selected_names(tree: LexborHTMLParser, selectors: Sequence[str]) -> list[str]:
    """All matches of the first selector that matches anything: several authors are common."""
    for selector in selectors:
        names = [t for t in (_node_line(n) for n in tree.css(selector)) if t]
        if names:
            return names
    return []


def _node_date(node: LexborNode, default_tz: str) -> datetime | None:
    for attr in ("datetime", "content"):
        value = node.attributes.get(attr)
        if value:
            parsed = parse_date(value, default_tz)
            if parsed:
                return parsed
    return parse_date(_node_line(node), default_tz)


def _selected_date(
    tree: LexborHTMLParser, selectors: Sequence[str], default_tz: str
) -> datetime | None:
    for selector in selectors:
        for node in tree.css(selector):
            parsed = _node_date(node, default_tz)
            if parsed:
                return parsed
    return None


def _join_names(names: list[str]) -> str | None:
    unique = list(dict.fromkeys(names))
    return ", ".join(unique)[:MAX_AUTHOR] if unique else None


def _http_url(value: str, base: str) -> str | None:
    value = value.strip()
    if not value or len(value) > MAX_URL:
        return None
    try:
        absolute = urljoin(base, value)
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if any(c.isspace() for c in absolute) or "\\" in absolute:
        return None
    return absolute


def _body_text(
    tree: LexborHTMLParser, body_selectors: Sequence[str], drop_selectors: Sequence[str]
) -> str:
    """Text of the first body selector with any text, after removing the drop selectors."""
    if not body_selectors:
        return ""
    for selector in (*_DROP_ALWAYS, *drop_selectors):
        for node in tree.css(selector):
            node.decompose()
    for selector in body_selectors:
        for node in tree.css(selector):
            text = html_to_text(node.html or "")
            if text:
                return text
    return ""


def _trafilatura_text(html: str, url: str) -> str:
    try:
        text = trafilatura.extract(
            html, url=url, fast=True, include_comments=False, with_metadata=False
        )
    except Exception:  # trafilatura has many internal failure modes; a page must not stop a crawl
        return ""
    return clean_text(text or "")


# --- the extractor ------------------------------------------------------------------------


def extract_article(
    html: str,
    url: str,
    *,
    default_tz: str = "UTC",
    body_selectors: Sequence[str] = (),
    drop_selectors: Sequence[str] = (),
    title_selectors: Sequence[str] = (),
    author_selectors: Sequence[str] = (),
    date_selectors: Sequence[str] = (),
    section_selectors: Sequence[str] = (),
) -> Extracted:
    """Pull an article's fields out of its page; every value is plain, capped text.

    Precedence per field: JSON-LD article object, then meta tags (OpenGraph, article:*,
    cXenseParse:*, itemprop), then the site selectors, then generic markup (h1, <title>,
    time[datetime]). The body comes from JSON-LD articleBody (unless the object says the
    article is not free: then only the visible page text is used), then body_selectors, then
    trafilatura. Never raises on bad markup or JSON.
    """
    tree = LexborHTMLParser(html or "")
    ld = _jsonld_article(tree) or {}
    metas = _metas(tree)

    title = one_line(html_to_text(_first_str(ld.get("headline")) or _first_str(ld.get("name"))))
    if not title:
        title = one_line(html_to_text(_meta(metas, "og:title", "twitter:title")))
    if not title:
        title = _selected_line(tree, (*title_selectors, "h1", "title"))

    description = html_to_text(_first_str(ld.get("description")))
    if not description:
        description = html_to_text(
            _meta(metas, "og:description", "description", "twitter:description")
        )

    authors = _names(ld.get("author"))
    if not authors:
        credit = _meta(metas, "cxenseparse:jat-credit")
        authors = [one_line(html_to_text(a)) for a in credit.split(",")] if credit else []
        authors = [a for a in authors if a]
    if not authors:
        authors = _names(_meta(metas, "author"))
    if not authors:
        # article:author is often a profile URL, which is not a name
        name = _meta(metas, "article:author")
        authors = _names(name) if name and "://" not in name else []
    if not authors:
        authors = _selected_names(tree, author_selectors)

    published = parse_date(_first_str(ld.get("datePublished")), default_tz)
    if published is None:
        meta_date = _meta(
            metas, "article:published_time", "og:article:published_time", "datepublished"
        )
        published = parse_date(meta_date, default_tz) if meta_date else None
    if published is None:
        published = _selected_date(
            tree, ("[itemprop=datePublished]", *date_selectors, "time[datetime]"), default_tz
        )

    section = one_line(html_to_text(_first_str(ld.get("articleSection"))))
    if not section:
        section = one_line(html_to_text(_meta(metas, "article:section")))
    if not section:
        section = _selected_line(tree, section_selectors)

    keywords = _keyword_list(ld.get("keywords"))
    if not any(keywords):
        keywords = _keyword_list(_meta(metas, "news_keywords", "keywords"))
    if not any(keywords):
        keywords = _keyword_list(metas.get("article:tag", []))

    site_id = one_line(_meta(metas, "cxenseparse:articleid"))
    if not site_id:
        info = tree.css_first("#article_info[data-cms_article_id], input#cms_article_id")
        if info is not None:
            attrs = info.attributes
            site_id = one_line(attrs.get("data-cms_article_id") or attrs.get("value") or "")
    if not site_id:
        shortlink = tree.css_first("link[rel=shortlink][href]")
        if shortlink is not None:
            site_id = _http_url(shortlink.attributes.get("href") or "", url) or ""

    canonical = None
    link = tree.css_first("link[rel=canonical][href]")
    for candidate in (
        link.attributes.get("href") if link is not None else None,
        _meta(metas, "og:url"),
        _jsonld_url(ld),
    ):
        canonical = _http_url(candidate or "", url)
        if canonical:
            break

    method = "none"
    text = html_to_text(_str(ld.get("articleBody"))) if _is_free(ld) else ""
    if text:
        method = "jsonld"
    else:
        text = _body_text(tree, body_selectors, drop_selectors)
        if text:
            method = "site"
        else:
            text = _trafilatura_text(html, url)
            method = "trafilatura" if text else "none"

    return Extracted(
        url=canonical,
        title=title[:MAX_TITLE],
        description=description[:MAX_DESCRIPTION],
        text=text[:MAX_TEXT],
        author=_join_names(authors),
        published_at=published,
        section=section[:MAX_SECTION] or None,
        keywords=list(dict.fromkeys(k for k in keywords if k))[:MAX_KEYWORDS],
        site_id=site_id[:MAX_SITE_ID] or None,
        method=method,
    )
