"""Commands that read: `articles`, `status`, `alerts log` and `rules try`.

Reads: feeds.yaml and the database. Writes: tables or JSON to stdout; never the database.
"""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from monitor.cli.output import iso, print_json, stdout, when
from monitor.cli.root import Context, alerts, cli, parse_since, rules, select_sources
from monitor.clock import utcnow
from monitor.judge.rules import RuleSyntaxError, parse_query
from monitor.operate.preview import rule_matches
from monitor.operate.status import source_rows
from storage import articles as store
from storage import deliveries, stories
from storage.fulltext import SearchError


@cli.command()
@click.option("--source", "sources", multiple=True, metavar="ID", help="Only these sources.")
@click.option("--sector", metavar="NAME", help="Only articles tagged with this sector.")
@click.option("--since", metavar="DATE", help="Published at or after: 2026-11-01, 24h, 7d.")
@click.option(
    "--search", metavar="QUERY",
    help='Words in title, summary or text, as in rules: semicon* AND NOT "rare earth".',
)  # fmt: skip
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.pass_obj
def articles(
    obj: Context,
    sources: tuple[str, ...],
    sector: str | None,
    since: str | None,
    search: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List stored articles, newest first, with their sectors and why they matched."""
    loaded = obj.load()
    if sources:
        select_sources(loaded.config, sources)
    if sector and sector not in loaded.config.sectors:
        raise click.BadParameter(
            f"unknown sector {sector!r} (configured: {', '.join(loaded.config.sectors)})",
            param_hint="--sector",
        )
    since_at = parse_since(since, utcnow()) if since else None
    try:
        query = parse_query(search) if search else None
    except RuleSyntaxError as exc:
        raise click.BadParameter(f"{exc} in {search!r}", param_hint="--search") from None
    db = obj.database(create=False)
    try:
        with db.read() as conn:
            rows = store.list_articles(
                conn, sources=sources, sector=sector, since=since_at, search=query, limit=limit
            )
    except SearchError as exc:
        raise click.BadParameter(str(exc), param_hint="--search") from None
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    table = Table(title=f"Articles ({len(rows)})")
    for col in ("published (UTC)", "source", "title", "sectors", "why"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            when(r.published_at),
            escape(r.source),
            escape(r.title),
            escape(", ".join(r.sectors)),
            escape(str(r.relevance_reason.get("text", ""))),
        )
    stdout().print(table)


@cli.command("stories")
@click.option("--since", metavar="DATE", help="Last reported at or after: 2026-11-01, 24h, 7d.")
@click.option("--sector", metavar="NAME", help="Only stories with an article of this sector.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.pass_obj
def stories_command(
    obj: Context, since: str | None, sector: str | None, limit: int, as_json: bool
) -> None:
    """List stories: one event as the outlets reported it, newest first."""
    loaded = obj.load()
    if sector and sector not in loaded.config.sectors:
        raise click.BadParameter(
            f"unknown sector {sector!r} (configured: {', '.join(loaded.config.sectors)})",
            param_hint="--sector",
        )
    since_at = parse_since(since, utcnow()) if since else None
    with obj.database(create=False).read() as conn:
        rows = stories.list_stories(conn, since=since_at, sector=sector, limit=limit)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    table = Table(title=f"Stories ({len(rows)})")
    for col in ("id", "first seen (UTC)", "last seen (UTC)", "outlets", "headline", "articles"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            str(r.id),
            when(r.first_seen_at),
            when(r.last_seen_at),
            escape(", ".join(r.outlets)),
            escape(r.headline),
            str(r.size),
        )
    stdout().print(table)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """Per source: state, last success, last error, failures, articles stored."""
    loaded = obj.load()
    rows = source_rows(obj.database(create=False), loaded.config, utcnow())
    if as_json:
        print_json(rows)
        return
    table = Table(title="Sources")
    daemons = {d for row in rows for d in row["held_by"].values() if d}
    columns = ["source", "state", "last success", "failures", "articles", "24 h", "last problem"]
    if len(daemons) > 1:  # several daemons share the database: say which runs each source
        columns.insert(2, "daemon")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        colour = {
            "ok": "green",
            "failing": "red",
            "unreachable": "red",
            "blocked": "red",
            "extraction broken": "red",
            "stale": "yellow",
            "silent": "yellow",
            "not collected": "yellow",
        }.get(row["state"], "")
        state_cell = f"[{colour}]{row['state']}[/]" if colour else row["state"]
        holder = [row["held_by"]["poll"] or row["held_by"]["crawl"] or "—"]
        table.add_row(
            escape(row["source"]),
            state_cell,
            *(map(escape, holder) if len(daemons) > 1 else ()),
            (row["last_success"] or "—").replace("T", " ")[:16],
            str(row["consecutive_failures"]),
            str(row["articles"]),
            str(row["articles_24h"]),
            escape((row["detail"] or row["crawl_problem"] or row["last_error"] or "")[:200]),
        )
    stdout().print(table)


@alerts.command("log")
@click.option("--subscriber", metavar="NAME", help="Only this subscriber.")
@click.option(
    "--status",
    type=click.Choice(["pending", "sending", "sent", "failed", "suppressed"]),
    help="Only deliveries in this state.",
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def alerts_log(
    obj: Context, subscriber: str | None, status: str | None, limit: int, as_json: bool
) -> None:
    """Deliveries, newest first, with attempts and the last error (secrets never shown)."""
    obj.load()
    db = obj.database(create=False)
    with db.read() as conn:
        rows = deliveries.delivery_log(conn, subscriber=subscriber, state=status, limit=limit)
    out: list[dict[str, Any]] = [
        {
            "id": r.id,
            "subscriber": r.subscriber,
            "channel": r.channel,
            "article_id": r.article_id,
            "title": r.title,
            "mode": r.mode,
            "status": r.state,
            "reason": r.reason,
            "rules": r.rules,
            "why": r.why,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "created_at": iso(r.created_at),
            "due_at": iso(r.due_at),
            "sent_at": iso(r.sent_at),
            "message_id": r.message_id,
        }
        for r in rows
    ]
    if as_json:
        print_json(out)
        return
    table = Table(title=f"Deliveries ({len(out)})")
    for col in (
        "id",
        "subscriber",
        "channel",
        "status",
        "attempts",
        "title",
        "last error / reason",
    ):
        table.add_column(col, overflow="fold")
    for r in out:
        table.add_row(
            str(r["id"]),
            escape(r["subscriber"]),
            escape(r["channel"]),
            r["status"],
            str(r["attempts"]),
            escape(r["title"]),
            escape(r["last_error"] or r["reason"] or ""),
        )
    stdout().print(table)


@rules.command("try")
@click.argument("query")
@click.option("--since", metavar="DATE", help="Only articles published since: 2026-11-01, 7d.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def rules_try(obj: Context, query: str, since: str | None, limit: int, as_json: bool) -> None:
    """Show which stored articles QUERY would have matched, and why."""
    obj.load()
    try:
        parsed = parse_query(query)
    except RuleSyntaxError as exc:
        raise click.BadParameter(f"{exc} in {query!r}", param_hint="QUERY") from None
    since_at = parse_since(since, utcnow()) if since else None
    db = obj.database(create=False)
    hits = rule_matches(db, parsed, since=since_at, limit=limit)
    with db.read() as conn:
        sizes = stories.sizes(conn, [a.story for a, _ in hits if a.story])
    if as_json:
        print_json(
            [
                {
                    "source": a.source_id,
                    "url": a.url,
                    "title": a.title,
                    "published_at": iso(a.published_at),
                    "terms": terms,
                    "sectors": sorted(a.sectors),
                    "relevance": a.relevance,
                    "relevance_reason": a.relevance_reason,  # its "text": why it is kept
                    "story": a.story,
                    "story_size": sizes.get(a.story) if a.story else None,
                }
                for a, terms in hits
            ]
        )
        return
    table = Table(title=f"{len(hits)} stored articles match {escape(str(parsed))}")
    for col in ("published (UTC)", "source", "title", "story", "matched", "why"):
        table.add_column(col, overflow="fold")
    for a, terms in hits:
        table.add_row(
            when(a.published_at),
            escape(a.source_id),
            escape(a.title),
            f"{a.story} ({sizes.get(a.story, 1)} articles)" if a.story else "—",
            escape(", ".join(terms)),
            escape(str(a.relevance_reason.get("text", ""))),
        )
    stdout().print(table)
