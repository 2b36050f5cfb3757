"""SYNTHETIC archives of the three outlets on a loopback server, for backfill tests and the bench.

Not captured from the sites: the listing and article markup follows shared/research/sources.md
(JT §1.3-1.4: search results paged with &pgno=N and dated /news/YYYY/MM/DD/ URLs; DD News §2.4-2.5:
WordPress archives paged /page/N/ with a.next links, 404 past the last page; ORF §3.2-3.4: cards
paged with ?page=N, "Published on Mon DD, YYYY" headers, an empty page past the end).
Every outlet gets one article every `every_days` days over `days`, newest first; about two in
three are India–Japan stories, the rest Indian or Japanese news without the other side.
The newest article is three hours before the machine's clock at import (NOW): the archive moves
with the calendar, and tests name dates relative to NOW (tests.archive.days_ago).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

NOW = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
_JST = ZoneInfo("Asia/Tokyo")
_IST = ZoneInfo("Asia/Kolkata")
PAGE_SIZE = 10

# (India–Japan?, headline, lede, body) — {n} keeps titles and texts unique per article.
_STORIES = [
    (
        True,
        "India and Japan agree on semiconductor supply chain steps, round {n}",
        "New Delhi and Tokyo agreed on a roadmap for chip packaging and testing plants in Gujarat.",
        "Officials from India and Japan said the semiconductor partnership (meeting {n}) would "
        "bring Japanese equipment makers to Indian fabs and train engineers in both countries.",
    ),
    (
        True,
        "JIMEX maritime exercise {n} ends off the coast with anti-submarine drills",
        "The Indian Navy and the Japan Maritime Self-Defense Force concluded exercise {n}.",
        "Ships of both navies practised anti-submarine warfare and replenishment at sea; India "
        "and Japan said the drills (edition {n}) served a free and open Indo-Pacific.",
    ),
    (
        False,
        "Monsoon session {n}: Parliament debates the farm credit bill",
        "Indian lawmakers argued over loan waivers for small farmers in sitting {n}.",
        "The opposition in New Delhi demanded wider relief; the minister said the bill (draft "
        "{n}) would reach 20 million households across India by next year.",
    ),
    (
        True,
        "Japan's JICA signs yen loan {n} for the Mumbai-Ahmedabad bullet train",
        "The Japan International Cooperation Agency extended another tranche to India.",
        "The loan (tranche {n}) finances civil works on the Shinkansen-based corridor that "
        "Japan and India began building in 2017; Tokyo and New Delhi expect trains by 2027.",
    ),
    (
        True,
        "India-Japan critical minerals dialogue {n} focuses on rare earth refining",
        "Officials from India and Japan discussed rare earth processing and lithium.",
        "The dialogue (session {n}) covered joint refining of rare earths in Odisha and Japanese "
        "investment in Indian lithium exploration, officials in New Delhi and Tokyo said.",
    ),
    (
        False,
        "Tokyo stocks close higher in session {n} as exporters gain",
        "The Nikkei average rose as a weaker yen lifted carmakers in trading day {n}.",
        "Analysts in Tokyo said foreign investors bought Japanese exporters (session {n}) while "
        "the Bank of Japan kept its policy rate unchanged.",
    ),
]


@dataclass(frozen=True)
class Story:
    outlet: str
    n: int
    published: datetime
    relevant: bool
    title: str
    lede: str
    body: str
    path: str


def days_ago(days: float) -> str:
    """The UTC date `days` before NOW as --since takes it (YYYY-MM-DD, read as its midnight UTC)."""
    return (NOW - timedelta(days=days)).date().isoformat()


def midnight(day: str) -> datetime:
    """The instant `monitor backfill --since DAY` starts at."""
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def _slug(title: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in title)
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")


def stories(outlet: str, days: int = 730, every_days: float = 2.5) -> list[Story]:
    """One outlet's articles over `days` days back from NOW, newest first."""
    out: list[Story] = []
    n = 0
    offset = {"japantimes": 0.2, "ddnews": 0.5, "orf": 0.8}[outlet]
    while True:
        published = NOW - timedelta(days=offset + n * every_days)
        if published < NOW - timedelta(days=days):
            return out
        relevant, title, lede, body = _STORIES[n % len(_STORIES)]
        title = title.format(n=n)
        slug = _slug(title)
        if outlet == "japantimes":
            path = f"/news/{published.astimezone(_JST):%Y/%m/%d}/world/{slug}/"
        elif outlet == "ddnews":
            path = f"/en/{slug}/"
        else:
            path = f"/expert-speak/{slug}"
        out.append(
            Story(outlet, n, published, relevant, title, lede.format(n=n), body.format(n=n), path)
        )
        n += 1


# --- markup ---------------------------------------------------------------------------------


def _jt_article(s: Story) -> str:
    return f"""<!-- SYNTHETIC: modeled on shared/research/sources.md §1.3(a), not captured -->
<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(s.title)} - The Japan Times</title>
<meta property="og:title" content="{html.escape(s.title)}">
<meta property="og:description" content="{html.escape(s.lede)}">
<meta name="cXenseParse:articleid" content="{4000000 + s.n}">
</head><body class="single single-post"><main><div class="jt-article-details">
<div class="article-section"><a href="/news/world/">World</a></div>
<h1 class="title-article">{html.escape(s.title)}</h1>
<div class="byline"><span class="credit">Staff Writer</span></div>
<div class="publish-date">{s.published.astimezone(_JST):%b %-d, %Y}</div>
<div class="article-body"><p>{html.escape(s.lede)}</p><p>{html.escape(s.body)}</p></div>
</div></main></body></html>"""


def _jt_listing(cards: list[Story]) -> str:
    items = "\n".join(
        f"""<div class="article"><div class="article-meta"><span class="date">
{s.published.astimezone(_JST):%b %-d, %Y}</span></div>
<h2 class="article-title"><a href="{s.path}?utm_source=search">{html.escape(s.title)}</a></h2>
<p class="article-excerpt">{html.escape(s.lede)}</p></div>"""
        for s in cards
    )
    empty = "" if cards else '<p class="no-results">No results found.</p>'
    return f"""<!-- SYNTHETIC: modeled on shared/research/sources.md §1.4 (search), not captured -->
<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Search | The Japan Times</title>
</head><body><main><div class="jt-search-widget"><div class="search-results">
{items}{empty}
</div></div></main></body></html>"""


def _dd_article(s: Story) -> str:
    ist = s.published.astimezone(_IST)
    return f"""<!-- SYNTHETIC: modeled on shared/research/sources.md §2.4, not captured -->
<!DOCTYPE html><html lang="en-US"><head><meta charset="UTF-8">
<title>{html.escape(s.title)} - DD News</title>
<meta property="og:title" content="{html.escape(s.title)}">
<meta property="article:published_time" content="{s.published.isoformat()}">
</head><body class="single single-post"><main><article class="post type-post">
<header class="entry-header"><span class="cat-links"><a href="/en/category/international/">
International</a></span><h1 class="entry-title">{html.escape(s.title)}</h1>
<div class="entry-meta"><span class="author">Web Desk</span>
<p class="mb-0 colorPrimary fs-14">{ist:%d/%m/%y | %H:%M}</p></div></header>
<div class="entry-content"><p>{html.escape(s.lede)}</p><p>{html.escape(s.body)}</p></div>
</article></main></body></html>"""


def _dd_listing(cards: list[Story], next_path: str | None) -> str:
    items = "\n".join(
        f"""<article class="post type-post"><h2 class="entry-title"><a href="{s.path}">
{html.escape(s.title)}</a></h2><div class="entry-summary"><p>{html.escape(s.lede)}</p></div>
</article>"""
        for s in cards
    )
    nav = f'<a class="next page-numbers" href="{next_path}">Next</a>' if next_path else ""
    return f"""<!-- SYNTHETIC: modeled on shared/research/sources.md §2.4-2.5, not captured -->
<!DOCTYPE html><html lang="en-US"><head><meta charset="UTF-8"><title>Archives - DD News</title>
</head><body class="archive"><main id="primary">{items}
<nav class="navigation pagination">{nav}</nav></main></body></html>"""


def _orf_article(s: Story) -> str:
    ist = s.published.astimezone(_IST)
    return f"""<!-- SYNTHETIC: modeled on shared/research/sources.md §3.3, not captured -->
<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(s.title)} | ORF</title></head><body><div class="container">
<div class="espert_speak_panel"><div class="expert_speak_header">
<span class="content_type">Expert Speak</span>Published on
<span class="show_date">{ist:%b %d, %Y}</span></div><h1>{html.escape(s.title)}</h1></div>
<div class="author_panel"><div class="author_name"><a href="/people-expert/a">A. Author</a></div>
</div><div class="expert_panel_content"><p>{html.escape(s.lede)}</p><p>{html.escape(s.body)}</p>
</div></div></body></html>"""


def _orf_listing(cards: list[Story]) -> str:
    items = "\n".join(
        f"""<div class="all_story"><div class="topic_story"><span class="show_date">
{s.published.astimezone(_IST):%b %d, %Y}</span></div>
<a href="{s.path}"><h3>{html.escape(s.title)}</h3></a><p>{html.escape(s.lede)}</p></div>"""
        for s in cards
    )
    return f"""<!-- SYNTHETIC: modeled on shared/research/sources.md §3.2, not captured -->
<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Expert Speak | ORF</title>
</head><body><div class="container">{items}</div></body></html>"""


# The routes each outlet's mirror serves (the keys of feeds.yaml `backfill.paths` in tests).
ROUTES = {
    "japantimes": "/search?query=India&section=all&content=all&qsort=newest",
    "ddnews": "/en/tag/japan/",
    "orf": "/tags/japan",
}


def _key(path: str) -> str:
    """Path plus sorted query: the spider may build query strings in another order."""
    parts = urlsplit(path)
    query = urlencode(sorted(parse_qsl(parts.query)))
    return parts.path + ("?" + query if query else "")


def _route_page(outlet: str, route: str, page_no: int) -> str:
    if page_no == 1:
        return route
    if outlet == "japantimes":
        return f"{route}&pgno={page_no}"
    if outlet == "ddnews":
        return f"{route}page/{page_no}/"
    return f"{route}?page={page_no}"


def build_pages(outlet: str, items: list[Story], route: str | None = None) -> dict[str, bytes]:
    """Every listing and article page of one outlet's archive, keyed by _key(path)."""
    route = route or ROUTES[outlet]
    pages: dict[str, bytes] = {}
    chunks = [items[i : i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)]
    for i, cards in enumerate(chunks, 1):
        path = _route_page(outlet, route, i)
        if outlet == "japantimes":
            body = _jt_listing(cards)
        elif outlet == "ddnews":
            nxt = _route_page(outlet, route, i + 1) if i < len(chunks) else None
            body = _dd_listing(cards, nxt)
        else:
            body = _orf_listing(cards)
        pages[_key(path)] = body.encode()
    # Past the end: JT shows "no results", ORF an empty page; DD News answers 404 (no entry).
    if outlet == "japantimes":
        pages[_key(_route_page(outlet, route, len(chunks) + 1))] = _jt_listing([]).encode()
    elif outlet == "orf":
        pages[_key(_route_page(outlet, route, len(chunks) + 1))] = _orf_listing([]).encode()
    render = {"japantimes": _jt_article, "ddnews": _dd_article, "orf": _orf_article}[outlet]
    for s in items:
        pages[_key(s.path)] = render(s).encode()
    return pages


@dataclass
class ArchiveMirror:
    """A loopback HTTP server for the archives; records each request path in order."""

    pages: dict[str, bytes] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # path → HTTP status to answer instead
    robots: str = "User-agent: *\nDisallow: /ajax/\n"
    requests: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: Any = None

    def start(self) -> ArchiveMirror:
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: with Nagle on, the client's delayed
            # ACK stalls each response by ~40 ms on loopback.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                with mirror._lock:
                    mirror.requests.append(self.path)
                if self.path == "/robots.txt":
                    self._send(200, mirror.robots.encode(), "text/plain")
                    return
                body = mirror.pages.get(_key(self.path))
                status = mirror.errors.get(_key(self.path))
                if status is not None:
                    self._send(status, b"<html><body>Server error</body></html>", "text/html")
                elif body is None:
                    self._send(404, b"<html><body>Page not found</body></html>", "text/html")
                else:
                    self._send(200, body, "text/html; charset=utf-8")

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client killed mid-request (the SIGKILL tests) is expected here

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def listing_requests(self, route: str) -> list[str]:
        path = urlsplit(route).path
        with self._lock:
            return [r for r in self.requests if urlsplit(r).path.startswith(path)]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def mirror_sources(
    base_url: str, outlets: Iterator[str] | list[str], delay: float = 0.0
) -> list[dict[str, Any]]:
    """feeds.yaml `sources:` entries pointing each outlet's backfill route at the mirror."""
    names = {"japantimes": "The Japan Times", "ddnews": "DD News", "orf": "ORF"}
    return [
        {
            "id": outlet,
            "name": names[outlet],
            "base_url": base_url,
            "feeds": [],
            "backfill": {"paths": [ROUTES[outlet]], "download_delay": delay},
        }
        for outlet in outlets
    ]
