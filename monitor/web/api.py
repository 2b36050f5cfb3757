"""The JSON API under /api/: articles (the fields of `monitor articles --json`), one article
whole, stories, sources (`monitor status --json`) and weekly trends; paginated.

Reads: the database through monitor/web/reads.py. Writes: JSON responses.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp import web

from monitor.operate.status import iso
from monitor.web import reads
from monitor.web.html import href
from monitor.web.openapi import document
from monitor.web.params import ParamError, number, search_from
from monitor.web.state import state
from storage.stories import StoryMember


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def json_problem(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


async def articles(request: web.Request) -> web.Response:
    st = state(request)
    try:
        s = search_from(request.query, request.query.getall("source", []), st.config, per_page=50)
    except ParamError as exc:
        return json_problem(400, str(exc))
    results = await asyncio.to_thread(reads.search, st.db, s)
    params = {**s.link_params(), "per_page": s.per_page}
    return json_response(
        {
            "items": [r.to_json() for r in results.articles],
            "page": s.page,
            "per_page": s.per_page,
            "next": href("/api/articles", **params, page=s.page + 1) if results.has_more else None,
            "prev": href("/api/articles", **params, page=s.page - 1) if s.page > 1 else None,
        }
    )


def _member(m: StoryMember) -> dict[str, Any]:
    return {
        "id": m.article_id,
        "source": m.source,
        "outlet": m.outlet,
        "title": m.title,
        "url": m.url,
        "published_at": iso(m.published_at),
    }


async def article(request: web.Request) -> web.Response:
    st = state(request)
    raw = request.match_info["id"]
    found = (
        await asyncio.to_thread(reads.article, st.db, int(raw))
        if raw.isdigit() and len(raw) <= 18
        else None
    )
    if found is None:
        return json_problem(404, "no stored article has this id")
    return json_response(
        {
            **found.article.to_json(),
            "text": found.text.text,
            "story": {"key": found.story_key, "articles": [_member(m) for m in found.story]},
            "alerts": [
                {
                    "subscriber": x.subscriber,
                    "mode": x.mode,
                    "status": x.state,
                    "reason": x.reason,
                    "rules": x.rules,
                    "created_at": iso(x.created_at),
                    "sent_at": iso(x.sent_at),
                }
                for x in found.alerts
            ],
        }
    )


async def stories(request: web.Request) -> web.Response:
    st = state(request)
    try:
        days = number(request.query, "days", 30, 1, 366)
    except ParamError as exc:
        return json_problem(400, str(exc))
    found = await asyncio.to_thread(reads.stories, st.db, st.now() - timedelta(days=days))
    return json_response(
        [{"key": key, "articles": [_member(m) for m in members]} for key, members in found]
    )


async def story(request: web.Request) -> web.Response:
    st = state(request)
    key = request.match_info["key"]
    members = await asyncio.to_thread(reads.story, st.db, key) if key.isalnum() else []
    if not members:
        return json_problem(404, "no stored story has this key")
    return json_response({"key": key, "articles": [_member(m) for m in members]})


async def sources(request: web.Request) -> web.Response:
    st = state(request)
    return json_response(await asyncio.to_thread(reads.sources, st.db, st.config, st.now()))


async def trends(request: web.Request) -> web.Response:
    st = state(request)
    try:
        weeks = number(request.query, "weeks", 13, 2, 104)
    except ParamError as exc:
        return json_problem(400, str(exc))
    t = await asyncio.to_thread(reads.trends, st.db, weeks, st.now())

    def counts(series: dict[str, Any]) -> dict[str, list[int]]:
        return {key: [series[key].get(w, 0) for w in t.weeks] for key in sorted(series)}

    return json_response(
        {
            "weeks": [w.isoformat() for w in t.weeks],
            "sectors": counts(t.sectors),
            "outlets": counts(t.outlets),
        }
    )


async def openapi(request: web.Request) -> web.Response:
    return json_response(document())
