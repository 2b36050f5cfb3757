"""The HTML pages: search, article, story, trends, sources and rule preview.

Reads: the database through monitor/web/reads.py (in a worker thread). Writes: HTML responses.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from monitor.judge.rules import RuleSyntaxError, parse_query
from monitor.web import reads
from monitor.web.chart import weekly_bars
from monitor.web.html import (
    Html,
    highlight,
    href,
    join,
    page,
    positive_terms,
    render,
    safe_href,
    snippet,
    table,
    term_pattern,
    when,
)
from monitor.web.params import MAX_QUERY, ParamError, Search, number, one, search_from
from monitor.web.state import State, state


def html_response(body: Html, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def problem_page(status: int, title: str, message: str) -> web.Response:
    return html_response(page(title, render('<p class="problem">{m}</p>', m=message)), status)


async def search_page(request: web.Request) -> web.Response:
    st = state(request)
    try:
        s = search_from(request.query, request.query.getall("source", []), st.config)
    except ParamError as exc:
        return html_response(_search_body(st, None, None, str(exc)), 400)
    results = await asyncio.to_thread(reads.search, st.db, s)
    return html_response(_search_body(st, s, results, None))


def _search_body(
    st: State, s: Search | None, results: reads.Results | None, error: str | None
) -> Html:
    feed = href("/feeds/search.atom", **(s.link_params() if s else {}))
    head = render(
        '<link rel="alternate" type="application/atom+xml" title="This search (Atom)" '
        'href="{feed}">',
        feed=feed,
    )
    parts = [_search_form(st, s)]
    if error:
        parts.append(render('<p class="problem" role="alert">{e}</p>', e=error))
    if s is not None and results is not None:
        parts.append(_results(st, s, results, feed))
    return page("Search", join(parts), active="/search", head=head)


def _options(choices: list[tuple[str, str]], selected: str | None, blank: str) -> Html:
    opts = [render('<option value="">{b}</option>', b=blank)]
    opts += [
        render(
            '<option value="{v}"{sel}>{label}</option>',
            v=value,
            label=label,
            sel=Html(" selected") if value == selected else Html(""),
        )
        for value, label in choices
    ]
    return join(opts)


def _search_form(st: State, s: Search | None) -> Html:
    sectors = [(name, sector.label) for name, sector in st.config.sectors.items()]
    sources = [(src.id, src.name) for src in st.config.sources]
    return render(
        '<form class="search" method="get" action="/search" role="search">'
        '<label class="wide">Query <input type="search" name="q" id="q" value="{q}" '
        'maxlength="{max}" placeholder=\'semicon* AND NOT "rare earth"\'></label>'
        '<label>Sector <select name="sector" id="sector">{sectors}</select></label>'
        '<label>Source <select name="source" id="source">{sources}</select></label>'
        '<label>From <input type="date" name="from" id="from" value="{since}"></label>'
        '<label>To <input type="date" name="to" id="to" value="{until}"></label>'
        '<label>Order <select name="order" id="order">{orders}</select></label>'
        '<button type="submit">Search</button></form>'
        '<p class="hint">Words, "quoted phrases", AND / OR / NOT, parentheses and a trailing * '
        "for prefixes, as in alert rules. Dates are UTC days.</p>",
        q=s.text if s else "",
        max=MAX_QUERY,
        sectors=_options(sectors, s.sector if s else None, "any sector"),
        sources=_options(sources, s.sources[0] if s and s.sources else None, "any source"),
        since=(s.link_params()["from"] or "") if s else "",
        until=(s.link_params()["to"] or "") if s else "",
        orders=join(
            render(
                '<option value="{v}"{sel}>{v}</option>',
                v=v,
                sel=Html(" selected") if s and (v == "relevance") == s.by_relevance else Html(""),
            )
            for v in ("newest", "relevance")
        ),
    )


def _results(st: State, s: Search, results: reads.Results, feed: str) -> Html:
    pattern = term_pattern(positive_terms(s.query))
    items = [_result(st, r, results, pattern) for r in results.articles]
    count = len(results.articles)
    first = s.offset + 1 if count else 0
    summary = render(
        '<p class="count">{text} <a class="feed" href="{feed}">Atom feed of this search</a></p>',
        text=f"Results {first}–{s.offset + count}" if count else "No stored article matches.",
        feed=feed,
    )
    pager = []
    params = s.link_params()
    if s.page > 1:
        pager.append(
            render(
                '<a rel="prev" href="{h}">← newer</a>', h=href("/search", **params, page=s.page - 1)
            )
        )
    if results.has_more:
        pager.append(
            render(
                '<a rel="next" href="{h}">older →</a>', h=href("/search", **params, page=s.page + 1)
            )
        )
    return render(
        '{summary}<ol class="results" start="{start}">{items}</ol><nav class="pager">{pager}</nav>',
        summary=summary,
        start=first,
        items=join(items),
        pager=join(pager),
    )


def _result(st: State, r: Any, results: reads.Results, pattern: Any) -> Html:
    terms = results.terms.get(r.id, [])
    return render(
        '<li class="result" data-id="{id}"><h2><a href="/articles/{id}">{title}</a></h2>'
        '<p class="meta"><span class="outlet">{outlet}</span> · {date}</p>'
        '<p class="snippet">{snippet}</p><p class="tags">{sectors}{terms}</p>'
        '<p class="why">{why}</p></li>',
        id=r.id,
        title=highlight(r.title, pattern),
        outlet=results.outlets.get(r.source, r.source),
        date=when(r.published_at),
        snippet=highlight(snippet(r.summary, pattern), pattern),
        sectors=_sector_chips(st, r.sectors),
        terms=(
            render('<span class="matched">matched: {t}</span>', t=", ".join(terms)) if terms else ""
        ),
        why=str(r.relevance_reason.get("text", "")),
    )


def _sector_chips(st: State, sectors: list[str]) -> Html:
    return join(
        render(
            '<a class="chip" href="{h}">{label}</a>',
            h=href("/search", sector=name),
            label=st.sector_label(name),
        )
        for name in sectors
    )


async def article_page(request: web.Request) -> web.Response:
    st = state(request)
    raw = request.match_info["id"]
    found = (
        await asyncio.to_thread(reads.article, st.db, int(raw))
        if raw.isdigit() and len(raw) <= 18
        else None
    )
    if found is None:
        return problem_page(404, "Not found", "No stored article has this number.")
    return html_response(page(found.article.title, _article_body(st, found)))


def _article_body(st: State, p: reads.ArticlePage) -> Html:
    a = p.article
    link = safe_href(a.url)
    original = (
        render('<a class="original" href="{u}" rel="noreferrer noopener">{u}</a>', u=link)
        if link
        else render('<span class="original">{u}</span>', u=a.url)
    )
    reason = a.relevance_reason
    evidence = join(
        render("<li>{e}</li>", e=item) for item in reason.get("for", []) if isinstance(item, str)
    )
    against = join(
        render("<li>{e}</li>", e=item)
        for item in reason.get("against", [])
        if isinstance(item, str)
    )
    sectors = table(
        ("sector", "terms that put it there"),
        (
            (_sector_chips(st, [name]), ", ".join(terms))
            for name, terms in sorted(a.matched.items())
        ),
        cls="sectors",
    )
    others = [m for m in p.story if m.article_id != a.id]
    story = (
        render(
            '<ul class="story">{items}</ul><p><a href="/stories/{key}">The whole story</a></p>',
            key=p.story_key or "",
            items=join(
                render(
                    '<li><span class="outlet">{outlet}</span> · {date} · '
                    '<a href="/articles/{id}">{title}</a></li>',
                    outlet=m.outlet,
                    date=when(m.published_at),
                    id=m.article_id,
                    title=m.title,
                )
                for m in others
            ),
        )
        if others
        else render("<p>Only {outlet} carried this story.</p>", outlet=p.outlet)
    )
    alerts = (
        table(
            ("subscriber", "mode", "state", "rules", "why not sent", "at"),
            (
                (
                    x.subscriber,
                    x.mode,
                    x.state,
                    ", ".join(x.rules),
                    x.reason or "",
                    when(x.sent_at or x.created_at),
                )
                for x in p.alerts
            ),
            cls="alerts",
        )
        if p.alerts
        else render("<p>No alert was planned for it.</p>")
    )
    paragraphs = [para for para in (p.text.text or a.summary).split("\n") if para.strip()]
    return render(
        '<p class="meta"><span class="outlet">{outlet}</span> · {date}{author} · {original}</p>'
        '<section><h2>Why it is India–Japan</h2><p class="why">{why}</p>'
        '<p class="score">relevance {score}</p><ul class="evidence">{evidence}</ul>'
        "{against}</section>"
        "<section><h2>Sectors</h2>{sectors}</section>"
        "<section><h2>Other outlets in its story</h2>{story}</section>"
        "<section><h2>Alerts it produced</h2>{alerts}</section>"
        '<section><h2>Stored text</h2><div class="text">{text}</div></section>',
        outlet=p.outlet,
        date=when(a.published_at),
        author=render(" · {a}", a=a.author) if a.author else "",
        original=original,
        why=str(reason.get("text", "")),
        score=f"{a.relevance:.2f}",
        evidence=evidence,
        against=render('<p>Against:</p><ul class="evidence">{e}</ul>', e=against)
        if against
        else "",
        sectors=sectors if a.matched else render("<p>No sector.</p>"),
        story=story,
        alerts=alerts,
        text=join(render("<p>{t}</p>", t=para) for para in paragraphs)
        or render("<p>No text stored.</p>"),
    )


async def story_page(request: web.Request) -> web.Response:
    st = state(request)
    key = request.match_info["key"]
    members = await asyncio.to_thread(reads.story, st.db, key) if key.isalnum() else []
    if not members:
        return problem_page(404, "Not found", "No stored story has this key.")
    rows = (
        (
            when(m.published_at),
            m.outlet,
            render('<a href="/articles/{id}">{t}</a>', id=m.article_id, t=m.title),
        )
        for m in members
    )
    outlets = sorted({m.outlet for m in members})
    body = render(
        "<p>{n} articles from {outlets}, first published {first}.</p>{table}",
        n=len(members),
        outlets=", ".join(outlets),
        first=when(members[0].published_at),
        table=table(("published", "outlet", "title"), rows, cls="timeline"),
    )
    return html_response(page(members[0].title, body))


async def stories_page(request: web.Request) -> web.Response:
    st = state(request)
    try:
        days = number(request.query, "days", 30, 1, 366)
    except ParamError as exc:
        return problem_page(400, "Stories", str(exc))
    found = await asyncio.to_thread(reads.stories, st.db, st.now() - timedelta(days=days))
    items = join(
        render(
            '<li class="story-item"><h2><a href="/stories/{key}">{title}</a></h2>'
            '<p class="meta">{outlets} · first {first} · last {last}</p></li>',
            key=key,
            title=members[0].title,
            outlets=", ".join(dict.fromkeys(m.outlet for m in members)),
            first=when(members[0].published_at),
            last=when(members[-1].published_at),
        )
        for key, members in found
    )
    body = render(
        "<p>Stories carried by more than one outlet in the last {days} days, latest first.</p>"
        '<ol class="stories">{items}</ol>{empty}',
        days=days,
        items=items,
        empty=render("<p>None yet.</p>") if not found else "",
    )
    return html_response(page("Stories", body, active="/stories"))


async def trends_page(request: web.Request) -> web.Response:
    st = state(request)
    try:
        weeks = number(request.query, "weeks", 13, 2, 104)
    except ParamError as exc:
        return problem_page(400, "Trends", str(exc))
    t = await asyncio.to_thread(reads.trends, st.db, weeks, st.now())
    labels = {name: sector.label for name, sector in st.config.sectors.items()}
    choices = join(
        render(
            '<option value="{w}"{sel}>{w} weeks</option>',
            w=w,
            sel=Html(" selected") if w == weeks else Html(""),
        )
        for w in sorted({4, 13, 26, 52, weeks})
    )
    body = render(
        '<form method="get" action="/trends"><label>Period <select name="weeks" id="weeks">'
        "{choices}</select></label> <button>Show</button></form>"
        "<p>Articles published per week (weeks start on Monday, UTC); a red bar is a spike: "
        "at least twice the usual week.</p>"
        "<h2>Per sector</h2>{sectors}<h2>Per outlet</h2>{outlets}",
        choices=choices,
        sectors=weekly_bars("Articles per sector per week", t.weeks, t.sectors, labels),
        outlets=weekly_bars("Articles per outlet per week", t.weeks, t.outlets, t.outlet_names),
    )
    return html_response(page("Trends", body, active="/trends"))


async def sources_page(request: web.Request) -> web.Response:
    st = state(request)
    rows = await asyncio.to_thread(reads.sources, st.db, st.config, st.now())
    body = table(
        (
            "source",
            "state",
            "why",
            "last success",
            "failures",
            "articles",
            "24 h",
            "last new article",
        ),
        (
            (
                render("{name} ({id})", name=r["name"], id=r["source"]),
                render('<span class="state" data-state="{s}">{s}</span>', s=r["state"]),
                r["detail"] or r["crawl_problem"] or r["last_error"] or "",
                _utc(r["last_success"]),
                r["consecutive_failures"],
                r["articles"],
                r["articles_24h"],
                _utc(r["last_new_article"]),
            )
            for r in rows
        ),
        cls="sources",
    )
    return html_response(page("Sources", body, active="/sources"))


def _utc(iso: str | None) -> Html:
    return when(datetime.fromisoformat(iso)) if iso else Html("—")


async def preview_page(request: web.Request) -> web.Response:
    st = state(request)
    text = one(request.query, "q")
    form = render(
        '<form method="get" action="/rules/try"><label class="wide">Rule '
        '<input type="search" name="q" id="q" value="{q}" maxlength="{max}"></label> '
        "<button>Try</button></form>"
        "<p class=hint>What this rule would have matched among the stored articles, newest "
        "first, with the terms that made it (as <code>monitor rules try</code>).</p>",
        q=text,
        max=MAX_QUERY,
    )
    if not text:
        return html_response(page("Rule preview", form, active="/rules/try"))
    try:
        if len(text) > MAX_QUERY:
            raise ParamError(f"q: at most {MAX_QUERY} characters")
        query = parse_query(text)
    except (RuleSyntaxError, ParamError) as exc:
        body = join([form, render('<p class="problem" role="alert">{e}</p>', e=str(exc))])
        return html_response(page("Rule preview", body, active="/rules/try"), 400)
    hits = await asyncio.to_thread(reads.preview, st.db, query, None, 50)
    pattern = term_pattern(positive_terms(query))
    rows = (
        (
            when(a.published_at),
            a.source_id,
            render(
                '<a href="{h}">{t}</a>', h=safe_href(a.url) or "#", t=highlight(a.title, pattern)
            ),
            ", ".join(terms),
            str(a.relevance_reason.get("text", "")),
        )
        for a, terms in hits
    )
    body = join(
        [
            form,
            render(
                "<p class=count>{n} stored articles match <code>{q}</code></p>",
                n=len(hits),
                q=str(query),
            ),
            table(("published", "source", "title", "matched", "why"), rows, cls="preview"),
        ]
    )
    return html_response(page("Rule preview", body, active="/rules/try"))
