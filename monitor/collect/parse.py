"""Parse: feed bytes → normalised Articles (plain text, canonical URL, UTC dates).

Reads: a fetched feed body. Writes: nothing. feedparser always gets the bytes wrapped in BytesIO:
given a str or bytes it would treat it as a path or URL and read local files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from time import struct_time
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from monitor.article import Article
from monitor.collect import shape
from monitor.collect.canonical import canonical_url
from monitor.collect.plaintext import html_to_text, one_line

MAX_TITLE = 1_000
MAX_SUMMARY = 10_000
MAX_TEXT = 200_000
FUTURE_SKEW = timedelta(minutes=10)  # clocks differ a little; more than this is a wrong date


class FeedParseError(Exception):
    """The body is not a feed we can read any entries from."""


@dataclass
class ParsedFeed:
    articles: list[Article]
    skipped: int = 0  # entries without a usable http(s) link
    warning: str | None = None  # feedparser recovered from malformed XML
    title: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def newest(self) -> datetime | None:
        """The newest publication date the feed itself gives (undated entries left out)."""
        dated = [a.published_at for a in self.articles if a.published_from_source]
        return max(dated) if dated else None


def parse_feed(
    body: bytes,
    *,
    source_id: str,
    feed_url: str,
    now: datetime,
    content_type: str | None = None,
    language: str | None = None,
) -> ParsedFeed:
    """Every usable entry of an RSS/Atom body as an Article."""
    refused = shape.problem(body)
    if refused:
        raise FeedParseError(f"refused: {refused} (no feed looks like that)")
    headers = {"content-location": feed_url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,  # the text is stripped to plain text anyway
        resolve_relative_uris=False,
    )
    entries = parsed.get("entries") or []
    if not entries:
        if parsed.get("bozo"):
            problem = parsed.get("bozo_exception")
            raise FeedParseError(f"not a readable feed: {_describe(problem)}")
        if not parsed.get("version"):
            raise FeedParseError("not a feed: no RSS or Atom document found")
    feed_info = parsed.get("feed") or {}
    lang = _language(feed_info.get("language")) or language
    out = ParsedFeed(articles=[], title=one_line(str(feed_info.get("title") or "")))
    if parsed.get("bozo") and entries:
        out.warning = f"recovered from malformed feed: {_describe(parsed.get('bozo_exception'))}"
    for entry in entries:
        article = _article(entry, source_id=source_id, feed_url=feed_url, now=now, language=lang)
        if article is None:
            out.skipped += 1
        else:
            out.articles.append(article)
    return out


def _describe(problem: Any) -> str:
    if problem is None:
        return "unknown problem"
    text = one_line(str(getattr(problem, "getMessage", lambda: problem)()))
    return f"{type(problem).__name__}: {text}"[:300]


def _language(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()[:16]


def _link(entry: Any, feed_url: str) -> str | None:
    candidates = [entry.get("link")]
    candidates += [link.get("href") for link in entry.get("links") or [] if link.get("href")]
    guid = entry.get("id")
    if guid and entry.get("guidislink", True):
        candidates.append(guid)
    for candidate in candidates:
        if not isinstance(candidate, str) or not candidate.strip():
            continue
        url = urljoin(feed_url, candidate.strip())
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname and "\\" not in url:
            return url
    return None


def _date(value: struct_time | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _article(
    entry: Any, *, source_id: str, feed_url: str, now: datetime, language: str | None
) -> Article | None:
    link = _link(entry, feed_url)
    if link is None:
        return None
    title = one_line(html_to_text(entry.get("title")))[:MAX_TITLE]
    summary = html_to_text(entry.get("summary"))[:MAX_SUMMARY]
    contents = [c.get("value") for c in entry.get("content") or [] if c.get("value")]
    text = html_to_text(max(contents, key=len))[:MAX_TEXT] if contents else ""
    if text == summary:
        text = ""
    published = _date(entry.get("published_parsed")) or _date(entry.get("updated_parsed"))
    from_source = published is not None and published <= now + FUTURE_SKEW
    guid = entry.get("id")
    return Article(
        source_id=source_id,
        url=canonical_url(link),
        original_url=link,
        guid=guid.strip()[:1000] if isinstance(guid, str) and guid.strip() else None,
        title=title,
        summary=summary,
        text=text,
        author=one_line(str(entry.get("author") or ""))[:300] or None,
        published_at=published if from_source and published is not None else now,
        first_seen_at=now,
        categories=_categories(entry),
        language=language,
        published_from_source=from_source,
    )


def _categories(entry: Any) -> list[str]:
    seen: dict[str, None] = {}
    for tag in entry.get("tags") or []:
        term = one_line(str(tag.get("term") or ""))[:100]
        if term:
            seen.setdefault(term, None)
    return list(seen)
