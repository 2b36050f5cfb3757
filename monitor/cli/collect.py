"""Commands that collect: `run` (the daemon), `poll`, `crawl` and `backfill`.

Reads: feeds.yaml and the database. Writes: through the flow (articles, state, alerts); tables
or JSON to stdout.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from monitor.cli.output import print_json, stdout
from monitor.cli.root import EXIT_CONFIG, Context, cli, parse_since, select_sources
from monitor.clock import utcnow
from monitor.operate.health import has_spider
from monitor.operate.preflight import check_imports
from monitor.reports import CrawlReport

CRAWL_COLUMNS = (
    "listing_pages",
    "article_links",
    "articles",
    "new",
    "updated",
    "duplicate",
    "irrelevant",
    "errors",
    "seconds",
)


@cli.command()
@click.pass_obj
def run(obj: Context) -> None:
    """Run the daemon: poll every source on its interval until SIGTERM or Ctrl-C."""
    from monitor.operate.daemon import run_daemon

    loaded = obj.load()
    broken = check_imports(loaded)
    if broken:
        # A spider that cannot load would fail every crawl for as long as the daemon runs.
        for finding in broken:
            click.echo(f"config error: {finding}", err=True)
        sys.exit(EXIT_CONFIG)
    from storage.db import DaemonRunning

    db = obj.database()
    try:
        with db.daemon_lock():
            sys.exit(run_daemon(loaded.config, db))
    except DaemonRunning as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


@cli.command()
@click.option("--source", "sources", multiple=True, metavar="ID", help="Only these sources.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.pass_obj
def poll(obj: Context, sources: tuple[str, ...], as_json: bool) -> None:
    """Poll sources once now, then exit (1 if any feed failed)."""
    from monitor.app import open_app
    from monitor.operate.poll import PollResult, poll_once
    from monitor.runtime import run_async

    loaded = obj.load()
    selected = select_sources(loaded.config, sources)
    db = obj.database()
    enrich = any(s.enrich and has_spider(s) for s in selected)

    async def go() -> PollResult:
        async with open_app(loaded.config, db, spiders=enrich) as app:
            return await poll_once(app, selected)

    result = run_async(go, spiders=enrich)
    if as_json:
        print_json(_poll_json(result))
    else:
        _print_poll(result)
    sys.exit(1 if any(r.count("error") for r in result.reports) else 0)


def _poll_json(result: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [r.to_json() for r in result.reports]
    out += [{"source": sid, "skipped": how} for sid, how in result.skipped.items()]
    if result.alerts is not None:
        a = result.alerts
        out.append(
            {"alerts": {"sent": a.sent, "messages": a.messages, "retrying": a.retrying,
                        "failed": a.failed}}
        )  # fmt: skip
    return out


def _print_poll(result: Any) -> None:
    console = stdout()
    table = Table(title="Poll")
    for col in ("source", "fetched", "not modified", "new", "duplicate", "irrelevant", "errors"):
        table.add_column(col, justify="left" if col == "source" else "right")
    for r in result.reports:
        table.add_row(
            r.source, str(r.count("ok")), str(r.count("not_modified")), str(r.total("new")),
            str(r.total("duplicate")), str(r.total("irrelevant")), str(r.count("error")),
        )  # fmt: skip
    console.print(table)
    for r in result.reports:
        for f in r.feeds:
            if f.outcome == "error":
                console.print(
                    f"[red]error[/] {escape(r.source)} {escape(f.url)}: {escape(f.error or '')}"
                )
            elif f.warning:
                console.print(
                    f"[yellow]warning[/] {escape(r.source)} {escape(f.url)}: {escape(f.warning)}"
                )
    for sid, how in result.skipped.items():
        console.print(f"skipped {escape(sid)}: {escape(how)}")
    if result.alerts is not None:
        a = result.alerts
        console.print(
            f"alerts: {a.messages} messages sent, {a.retrying} retrying, {a.failed} failed"
        )


@cli.command()
@click.argument("spider")
@click.option("--json", "as_json", is_flag=True, help="Print the crawl report as JSON.")
@click.pass_obj
def crawl(obj: Context, spider: str, as_json: bool) -> None:
    """Run one source's spider now (its listing pages), store what it finds, then exit.

    Exit 1 when the crawl detected a problem (nothing fetched, or the page layout changed).
    """
    from monitor.app import open_app
    from monitor.flow import crawl_source
    from monitor.runtime import run_async

    loaded = obj.load()
    [source] = select_sources(loaded.config, (spider,))
    if not has_spider(source):
        raise click.BadParameter(
            f"source {spider!r} has no spider (needs a crawl: section and a spider in spiders/)",
            param_hint="SPIDER",
        )
    db = obj.database()

    async def go() -> CrawlReport:
        async with open_app(loaded.config, db, spiders=True) as app:
            return await crawl_source(app, source)

    report = run_async(go)
    if as_json:
        print_json(report.to_json())
    else:
        table = Table(title=f"Crawl {source.id}")
        for name in CRAWL_COLUMNS:
            table.add_column(name.replace("_", " "), justify="right")
        table.add_row(*(str(getattr(report, name)) for name in CRAWL_COLUMNS))
        console = stdout()
        console.print(table)
        if report.problem:
            console.print(f"[red]problem[/] {escape(report.problem)}")
    sys.exit(1 if report.problem else 0)


@cli.command()
@click.option(
    "--since", "since_text", required=True, metavar="DATE",
    help="Walk back to this publication date: 2025-01-01, 2025-01-01T00:00+09:00, 90d.",
)  # fmt: skip
@click.option(
    "--until", "until_text", metavar="DATE",
    help="Store only articles published up to this date (a bare date means its end).",
)  # fmt: skip
@click.option("--source", "sources", multiple=True, metavar="ID", help="Only these sources.")
@click.option(
    "--max-pages", type=click.IntRange(1, 100_000), metavar="N",
    help="At most N listing pages per route in this run; the next run resumes there.",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Walk and judge, but store nothing.")
@click.option("--restart", is_flag=True, help="Forget checkpoints: walk every route from page 1.")
@click.option(
    "--notify-digest", is_flag=True,
    help="Afterwards, send each subscriber one summary of the backfilled matches of their rules.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.pass_obj
def backfill(
    obj: Context,
    since_text: str,
    until_text: str | None,
    sources: tuple[str, ...],
    max_pages: int | None,
    dry_run: bool,
    restart: bool,
    notify_digest: bool,
    as_json: bool,
) -> None:
    """Fill history from each outlet's archive pages, newest to oldest, back to --since.

    Resumable: each finished listing page is checkpointed, so running the same command again after
    Ctrl-C, SIGTERM or a crash continues where it stopped. Backfilled articles never trigger
    immediate alerts. Exit 1 when a source failed, 130 when interrupted.
    """
    # Imported here: the other commands need not load the backfill machinery.
    from monitor.app import open_app
    from monitor.operate.backfill import BackfillOptions, has_history, run_backfill
    from monitor.operate.progress import BackfillBars, report_table
    from monitor.runtime import run_async

    loaded = obj.load()
    config = loaded.config
    now = utcnow()
    since = parse_since(since_text, now)
    until = None
    if until_text is not None:
        until = parse_since(until_text, now, "--until")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", until_text.strip()):
            until += timedelta(days=1) - timedelta(microseconds=1)
        if until < since:
            raise click.BadParameter("is before --since", param_hint="--until")
    selected = select_sources(config, sources)
    for source in selected if sources else []:
        if not has_history(source):
            raise click.BadParameter(
                f"source {source.id!r} has no history routes (needs backfill.paths in "
                "feeds.yaml and a spider in spiders/)",
                param_hint="--source",
            )
    selected = [s for s in selected if has_history(s)]
    if not selected:
        raise click.UsageError("no source has backfill.paths in feeds.yaml")
    if notify_digest and dry_run:
        raise click.UsageError("--notify-digest sends what was stored; --dry-run stores nothing")
    db = obj.database()
    options = BackfillOptions(
        since=since, until=until, max_pages=max_pages, dry_run=dry_run, restart=restart
    )
    bars = BackfillBars(since, enabled=False if as_json else None)

    def stopping() -> None:
        click.echo("stopping; run the same command again to resume", err=True)

    async def go() -> Any:
        async with open_app(config, db) as app:
            with bars:
                return await run_backfill(
                    app, selected, options, on_progress=bars.update, on_stop=stopping,
                    notify_digest=notify_digest,
                )  # fmt: skip

    reports, summary = run_async(go)
    if as_json:
        data: list[Any] = [r.to_json() for r in reports]
        if summary:
            data.append({"digest": summary})
        print_json(data)
    else:
        console = stdout()
        console.print(report_table(reports, dry_run=dry_run))
        for r in reports:
            if r.problem:
                console.print(f"[red]problem[/] {escape(r.source)}: {escape(r.problem)}")
        if summary:
            console.print(
                f"digest: {summary['matches']} backfilled matches, {summary['messages']} "
                f"messages sent, {summary['retrying']} retrying, {summary['failed']} failed"
            )
        if any(r.state == "interrupted" for r in reports):
            console.print("interrupted: run the same command again to resume")
    if any(r.state == "interrupted" for r in reports):
        sys.exit(130)
    sys.exit(1 if any(r.state == "failed" for r in reports) else 0)
