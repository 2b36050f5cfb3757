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
from monitor.collect import entries, shape
from monitor.collect.canonical import canonical_url, url_hash
from monitor.collect.entries import Record
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
    # parse_new: the entries the feed's last body also held, recognised and not parsed again
    recognised: list[Record] = field(default_factory=list)
    # parse_new: every entry parsed, with its record (kind still to be settled by ingest) and
    # its article (None: no usable link); None when the entries' bounds were not certain
    read: list[tuple[Record, Article | None]] | None = None
    newest_recognised: datetime | None = None

    @property
    def newest(self) -> datetime | None:
        """The newest publication date the feed itself gives (undated entries left out)."""
        dated = [a.published_at for a in self.articles if a.published_from_source]
        if self.newest_recognised is not None:
            dated.append(self.newest_recognised)
        return max(dated) if dated else None

    @property
    def entries(self) -> int:
        return len(self.articles) + self.skipped + len(self.recognised)


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
    _refuse(body)
    parsed, found = _feedparser(body, feed_url, content_type)
    out = _feed(parsed, found)
    lang = _feed_language(parsed) or language
    for entry in found:
        article = _article(entry, source_id=source_id, feed_url=feed_url, now=now, language=lang)
        if article is None:
            out.skipped += 1
        else:
            out.articles.append(article)
    return out


def parse_new(
    body: bytes,
    *,
    source_id: str,
    feed_url: str,
    now: datetime,
    content_type: str | None = None,
    language: str | None = None,
    context: bytes = b"",
    previous: bytes | None = None,
) -> ParsedFeed:
    """parse_feed(), except that the entries whose bytes the feed's last body also held
    (`previous`: its records) are recognised, not parsed: feedparser reads the body with those
    cut out. Whenever that could read differently from the whole body (bounds not certain, a
    malformed rest, a new entry sharing a link or guid with a known one) the body is parsed
    whole. `context`: what else changes what an entry yields (the judge's rules)."""
    _refuse(body)
    context = b"\0".join(
        (context, source_id.encode(), feed_url.encode(), (content_type or "").encode(),
         (language or "").encode())
    )  # fmt: skip
    cut = entries.split(body, context)
    if cut is None:
        return parse_feed(
            body, source_id=source_id, feed_url=feed_url, now=now,
            content_type=content_type, language=language,
        )  # fmt: skip
    known = entries.load(previous)
    drop = [i for i, digest in enumerate(cut.digests) if digest in known]
    recognised = [known[cut.digests[i]] for i in drop]
    if drop:
        rest = [d for i, d in enumerate(cut.digests) if d not in known]
        if not rest:
            out = ParsedFeed(articles=[], read=[])
        else:
            parsed, found = _feedparser(cut.without(drop), feed_url, content_type)
            if parsed.get("bozo") or len(found) != len(rest):
                out = None
            else:
                out = _read(parsed, found, rest, source_id, feed_url, now, language)
                if _collides(out, recognised):
                    out = None
        if out is not None:
            out.recognised = recognised
            out.newest_recognised = _newest(recognised, now)
            return out
    parsed, found = _feedparser(body, feed_url, content_type)
    digests = cut.digests if len(found) == len(cut.digests) else None
    return _read(parsed, found, digests, source_id, feed_url, now, language)


def _read(
    parsed: Any,
    found: list[Any],
    digests: list[bytes] | None,
    source_id: str,
    feed_url: str,
    now: datetime,
    language: str | None,
) -> ParsedFeed:
    out = _feed(parsed, found)
    lang = _feed_language(parsed) or language
    out.read = [] if digests is not None else None
    for i, entry in enumerate(found):
        article = _article(entry, source_id=source_id, feed_url=feed_url, now=now, language=lang)
        if article is None:
            out.skipped += 1
        else:
            out.articles.append(article)
        if out.read is not None and digests is not None:
            published = entry_date(entry)
            record = Record(
                digests[i],
                entries.short_hash(url_hash(article.url)) if article else 0,
                entries.short_hash(article.guid) if article else 0,
                int(published.timestamp()) if published else None,
                entries.NO_ARTICLE if article is None else b"?",
            )
            out.read.append((record, article))
    return out


def _collides(out: ParsedFeed, recognised: list[Record]) -> bool:
    """A new entry with the link or guid of a recognised one: which of them counts, and
    whether the guid identifies anything, depends on both (dedup 1), so read them together."""
    keys = {r.key for r in recognised if r.key}
    guids = {r.guid for r in recognised if r.guid}
    return any(
        record.key in keys or (record.guid and record.guid in guids)
        for record, article in out.read or []
        if article is not None
    )


def _newest(records: list[Record], now: datetime) -> datetime | None:
    dated = [d for r in records if (d := r.published_at) is not None and d <= now + FUTURE_SKEW]
    return max(dated) if dated else None


def _refuse(body: bytes) -> None:
    refused = shape.problem(body)
    if refused:
        raise FeedParseError(f"refused: {refused} (no feed looks like that)")


def _feedparser(body: bytes, feed_url: str, content_type: str | None) -> tuple[Any, list[Any]]:
    """feedparser's result and its entries; a body with no readable feed raises."""
    headers = {"content-location": feed_url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,  # the text is stripped to plain text anyway
        resolve_relative_uris=False,
    )
    found = parsed.get("entries") or []
    if not found:
        if parsed.get("bozo"):
            problem = parsed.get("bozo_exception")
            raise FeedParseError(f"not a readable feed: {_describe(problem)}")
        if not parsed.get("version"):
            raise FeedParseError("not a feed: no RSS or Atom document found")
    return parsed, found


def _feed(parsed: Any, found: list[Any]) -> ParsedFeed:
    feed_info = parsed.get("feed") or {}
    out = ParsedFeed(articles=[], title=one_line(str(feed_info.get("title") or "")))
    if parsed.get("bozo") and found:
        out.warning = f"recovered from malformed feed: {_describe(parsed.get('bozo_exception'))}"
    return out


def _feed_language(parsed: Any) -> str | None:
    return _language((parsed.get("feed") or {}).get("language"))


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


def entry_date(entry: Any) -> datetime | None:
    """The date an entry gives itself: published, else updated."""
    return _date(entry.get("published_parsed")) or _date(entry.get("updated_parsed"))


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
    published = entry_date(entry)
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
