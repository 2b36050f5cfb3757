"""Atom feeds out: any search (/feeds/search.atom?q=…) and each sector (/feeds/sectors/NAME.atom).

Reads: the database through monitor/web/reads.py. Writes: Atom 1.0 XML (every value escaped).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

from monitor.web import reads
from monitor.web.api import json_problem
from monitor.web.html import clean, href, safe_href
from monitor.web.params import ParamError, Search, search_from
from monitor.web.state import State, state

ENTRIES = 50


async def search_feed(request: web.Request) -> web.Response:
    st = state(request)
    try:
        s = search_from(
            request.query, request.query.getall("source", []), st.config, per_page=ENTRIES
        )
    except ParamError as exc:
        return json_problem(400, str(exc))
    title = f"Search: {s.text}" if s.text else "All stored articles"
    self_link = href("/feeds/search.atom", **s.link_params())
    return await _feed(request, st, s, title, self_link, href("/search", **s.link_params()))


async def sector_feed(request: web.Request) -> web.Response:
    st = state(request)
    name = request.match_info["sector"]
    if name not in st.config.sectors:
        return json_problem(404, f"unknown sector {name!r}")
    s = search_from({"sector": name}, [], st.config, per_page=ENTRIES)
    path = f"/feeds/sectors/{name}.atom"
    return await _feed(
        request, st, s, f"Sector: {st.sector_label(name)}", path, href("/search", sector=name)
    )


def _attr(value: object) -> str:
    return quoteattr(clean(value))


def _text(value: object) -> str:
    return escape(clean(value))


async def _feed(
    request: web.Request, st: State, s: Search, title: str, self_path: str, alternate: str
) -> web.Response:
    results = await asyncio.to_thread(reads.search, st.db, s)
    base = f"{request.scheme}://{request.host}"
    newest = max((r.first_seen_at for r in results.articles), default=st.now())
    entries = []
    for r in results.articles:
        outlet = results.outlets.get(r.source, r.source)
        link = safe_href(r.url)
        why = r.relevance_reason.get("text", "")
        categories = "".join(
            f"<category term={_attr(name)} label={_attr(st.sector_label(name))}/>"
            for name in r.sectors
        )
        entries.append(
            "<entry>"
            f"<id>{_text(base)}/articles/{r.id}</id>"
            f"<title>{_text(r.title)}</title>"
            f"<updated>{_stamp(r.first_seen_at)}</updated>"
            f"<published>{_stamp(r.published_at)}</published>"
            f"<author><name>{_text(r.author or outlet)}</name></author>"
            + (f'<link rel="alternate" href={_attr(link)}/>' if link else "")
            + f'<link rel="related" href={_attr(f"{base}/articles/{r.id}")}/>'
            f"{categories}"
            f'<summary type="text">{_text(r.summary)}</summary>'
            f'<content type="text">{_text(outlet)}: {_text(why)}</content>'
            "</entry>"
        )
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>{_text(base + self_path)}</id>"
        f"<title>{_text(title)} · India–Japan News Monitor</title>"
        f"<updated>{_stamp(newest)}</updated>"
        f'<link rel="self" href={_attr(base + self_path)}/>'
        f'<link rel="alternate" type="text/html" href={_attr(base + alternate)}/>'
        "<generator>india-japan-monitor</generator>" + "".join(entries) + "</feed>\n"
    )
    return web.Response(text=body, content_type="application/atom+xml", charset="utf-8")


def _stamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
