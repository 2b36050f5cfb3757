"""Messages: one article, a digest, a test alert or an operator notice, for email and Telegram.

Reads: Items (every field untrusted text from the web). Writes: nothing; returns Messages whose
HTML escapes every web-supplied string and links only http(s), and whose text fits Telegram.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from monitor.collect.plaintext import clean_text, one_line

TITLE_MAX = 250
TEXT_MAX = 4000  # Telegram allows 4096 characters after entity parsing
HTML_SUMMARY_MAX = 2000  # per item in a single alert; digests use DIGEST_SUMMARY_MAX
DIGEST_SUMMARY_MAX = 300
URL_MAX = 2000
MESSAGE_ID_DOMAIN = "india-japan-monitor@localhost"
SIGNATURE = "News Monitor"  # who signs a message when the config names no topic


@dataclass(frozen=True)
class Item:
    """One article as an alert shows it; every field is untrusted text from the web."""

    source_name: str
    title: str
    url: str
    published_at: datetime
    sectors: list[str]
    why: list[str]  # human "why it matched" lines
    summary: str
    other_outlets: list[str] = field(default_factory=list)  # digests: outlets with the same story
    story: str = ""  # the story it belongs to: a digest lists a story once


@dataclass(frozen=True)
class Message:
    title: str  # one line, no CR/LF, <= TITLE_MAX characters
    text: str  # plain text body (Telegram), <= TEXT_MAX characters, headline first
    html: str  # HTML body (email); every web-supplied string escaped, links only http(s)
    message_id: str  # deterministic, e.g. "<delivery-42.india-japan-monitor@localhost>"
    signature: str = SIGNATURE  # who sends it: the footer, and Apprise's app id


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def _line(text: str, limit: int = 500) -> str:
    return clip(one_line(text), limit)


def safe_link(url: str) -> str | None:
    """The URL if it is a plain http(s) link, else None (no javascript:, data:, spaces…)."""
    url = url.strip()
    if not url or len(url) > URL_MAX or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return url


def _local_time(when: datetime, tz: ZoneInfo) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def message_id_for(delivery_key: str) -> str:
    """Deterministic Message-ID for a delivery key, e.g. "delivery-42"."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", delivery_key)[:120].strip(".-") or "delivery"
    if safe != delivery_key:  # keep distinct keys distinct after cleaning
        safe += "-" + hashlib.sha256(delivery_key.encode("utf-8")).hexdigest()[:8]
    return f"<{safe}.{MESSAGE_ID_DOMAIN}>"


def _ref(delivery_key: str) -> str:
    return "ref: " + _line(delivery_key, 120)


def _fit_text(head: str, middle: str, tail: str) -> str:
    """head + middle + tail in at most TEXT_MAX characters; the middle is shortened first."""
    room = TEXT_MAX - len(head) - len(tail)
    if room < len(middle):
        middle = clip(middle, max(room, 0)) if room > 1 else ""
    return clip(head + middle + tail, TEXT_MAX)


def _item_lines(item: Item, tz: ZoneInfo) -> tuple[str, str, list[str]]:
    """(title, "source · time", detail lines) of an item, all plain single lines."""
    title = _line(item.title) or "(untitled)"
    meta = f"{_line(item.source_name, 100)} · {_local_time(item.published_at, tz)}"
    details: list[str] = []
    sectors, why, others = _lists(item)
    if sectors:
        details.append("Sectors: " + ", ".join(sectors))
    if why:
        details.append("Why: " + why[0])
        details += ["     " + w for w in why[1:]]
    if others:
        details.append("Also in: " + ", ".join(others))
    return title, meta, details


def _lists(item: Item) -> tuple[list[str], list[str], list[str]]:
    """Sectors, why-lines and other outlets as clean single lines, bounded in number."""
    sectors = [s for s in (_line(s, 80) for s in item.sectors[:20]) if s]
    why = [w for w in (_line(w, 300) for w in item.why[:10]) if w]
    others = [o for o in (_line(o, 100) for o in item.other_outlets[:20]) if o]
    return sectors, why, others


def _item_html(item: Item, tz: ZoneInfo, summary_max: int, heading_tag: str) -> str:
    e = html.escape
    title, meta, _ = _item_lines(item, tz)
    sectors, why, others = _lists(item)
    link = safe_link(item.url)
    head = f'<a href="{e(link, quote=True)}">{e(title)}</a>' if link else e(title)
    parts = [f"<{heading_tag}>{head}</{heading_tag}>", f"<p><small>{e(meta)}</small></p>"]
    if sectors:
        parts.append(f"<p><b>Sectors:</b> {e(', '.join(sectors))}</p>")
    if why:
        rows = "".join(f"<li>{e(w)}</li>" for w in why)
        parts.append(f"<p><b>Why it matched:</b></p><ul>{rows}</ul>")
    summary = clip(clean_text(item.summary), summary_max)
    if summary:
        paras = "".join(f"<p>{e(p)}</p>" for p in summary.split("\n") if p.strip())
        parts.append(paras)
    if others:
        parts.append(f"<p><b>Also in:</b> {e(', '.join(others))}</p>")
    if link:
        parts.append(f'<p><a href="{e(link, quote=True)}">{e(clip(link, 200))}</a></p>')
    return "\n".join(parts)


def _page(title: str, body: str, delivery_key: str, signature: str) -> str:
    e = html.escape
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{e(title)}</title></head><body>\n{body}\n"
        f"<hr><p><small>{e(_line(signature, 100))} · {e(_ref(delivery_key))}</small></p>"
        "</body></html>"
    )


def render_single(
    item: Item, tz: ZoneInfo, delivery_key: str, signature: str = SIGNATURE
) -> Message:
    """One article as one alert; times in the subscriber's zone."""
    title, meta, details = _item_lines(item, tz)
    source = " — " + _line(item.source_name, 60)
    subject = clip(title, TITLE_MAX - len(source)) + source
    link = safe_link(item.url)
    head = "\n".join([title, meta, *details]) + "\n\n"
    summary = clean_text(item.summary)
    tail = ("\n\n" + link if link else "") + "\n" + _ref(delivery_key)
    text = _fit_text(head, summary, tail)
    body = _item_html(item, tz, HTML_SUMMARY_MAX, "h2")
    page = _page(subject, body, delivery_key, signature)
    return Message(subject, text, page, message_id_for(delivery_key), signature)


def render_digest(
    items: list[Item], tz: ZoneInfo, delivery_key: str, heading: str, signature: str = SIGNATURE
) -> Message:
    """Many items in one message (digests, folded "N new matches" alerts).

    The email lists every item; the Telegram text lists as many as fit in TEXT_MAX and says how
    many more there are.
    """
    subject = clip(_line(heading) or f"{len(items)} stories", TITLE_MAX)
    tail = "\n" + _ref(delivery_key)
    blocks: list[str] = []
    used = len(subject) + 2 + len(tail)
    for number, item in enumerate(items, 1):
        title, meta, details = _item_lines(item, tz)
        link = safe_link(item.url)
        lines = [f"{number}. {title}", f"   {meta}", *("   " + d for d in details)]
        if link:
            lines.append("   " + clip(link, 500))
        block = "\n".join(lines) + "\n\n"
        more = f"… and {len(items) - number + 1} more (see the email digest)\n"
        if used + len(block) + len(more) > TEXT_MAX:
            blocks.append(more)
            break
        blocks.append(block)
        used += len(block)
    text = clip(subject + "\n\n" + "".join(blocks).rstrip("\n") + "\n" + tail, TEXT_MAX)
    body = "\n<hr>\n".join(_item_html(item, tz, DIGEST_SUMMARY_MAX, "h3") for item in items)
    page = _page(subject, f"<h2>{html.escape(subject)}</h2>\n{body}", delivery_key, signature)
    return Message(subject, text, page, message_id_for(delivery_key), signature)


def render_test(subscriber: str, delivery_key: str, signature: str = SIGNATURE) -> Message:
    """A test alert proving a destination works (`monitor alerts test`)."""
    name = _line(subscriber, 100)
    subject = clip(f"{_line(signature, 100)}: test alert for {name}", TITLE_MAX)
    sentence = f"This is a test alert for subscriber {name}. If you can read it, delivery works."
    text = f"{subject}\n\n{sentence}\n{_ref(delivery_key)}"
    page = _page(subject, f"<p>{html.escape(sentence)}</p>", delivery_key, signature)
    return Message(subject, clip(text, TEXT_MAX), page, message_id_for(delivery_key), signature)


def render_notice(title: str, body: str, signature: str = SIGNATURE) -> Message:
    """An operator notice (e.g. a destination failing for good); the key derives from the text."""
    subject = clip("[monitor] " + _line(title), TITLE_MAX)
    detail = clean_text(body)
    key = "notice-" + hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()[:16]
    text = _fit_text(subject + "\n\n", detail, "\n" + _ref(key))
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in clip(detail, 8000).split("\n") if p)
    page = _page(subject, paras, key, signature)
    return Message(subject, text, page, message_id_for(key), signature)
