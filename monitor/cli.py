"""The `monitor` command: run the daemon, poll now, list articles, show status, check the config.

Reads: feeds.yaml (--config / MONITOR_CONFIG) and the database (--db / MONITOR_DB).
Writes: the database (run, poll); tables or JSON to stdout; diagnostics to stderr.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import OperationalError

from monitor import __version__
from monitor.collect.crawl import CrawlReport, CrawlRunner, run_async
from monitor.collect.fetch import Fetcher
from monitor.config import Config, ConfigError, LoadedConfig, load_config
from monitor.deliver.dispatch import Dispatcher, secret_environment
from monitor.deliver.notify import redact, render_test, send
from monitor.flow import Refresher, SourceReport, fetch_settings
from monitor.judge.rules import Rule, RuleSet, RuleSyntaxError, parse_query
from monitor.operate import health as source_health
from monitor.operate.daemon import collection_state, has_spider, run_daemon
from monitor.operate.logs import setup_logging
from monitor.operate.preflight import check_imports, preflight
from spiders import SPIDER_NAMES
from storage import articles as store
from storage import backup as backup_store
from storage import crawls, deliveries
from storage import health as health_store
from storage import sources as state
from storage.db import Database, resolve_db_url

EXIT_CONFIG = 2
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


@dataclass
class Context:
    config_path: str
    db_url: str | None

    def load(self) -> LoadedConfig:
        try:
            return load_config(self.config_path)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"config error: {problem}", err=True)
            sys.exit(EXIT_CONFIG)

    def database(self) -> Database:
        db = Database(resolve_db_url(self.db_url))
        db.create_schema()
        return db


def _stdout() -> Console:
    # Piped output keeps whole table cells on one line instead of folding at 80 columns.
    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "—"


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _every(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 60)}m" if seconds >= 60 else f"{int(seconds)}s"


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


_RELATIVE = re.compile(r"^(\d+)\s*([hdw])$")


def parse_since(value: str, now: datetime, param: str = "--since") -> datetime:
    """'2026-11-01', '2026-11-01T09:00+05:30', or relative '24h' / '7d' / '2w' → aware UTC."""
    m = _RELATIVE.match(value.strip().lower())
    if m:
        hours = {"h": 1, "d": 24, "w": 168}[m.group(2)] * int(m.group(1))
        return now - timedelta(hours=hours)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value.strip()), datetime.min.time())
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is not a date (2026-11-01), a datetime (2026-11-01T09:00Z) "
                "or a relative time (24h, 7d)",
                param_hint=param,
            ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="monitor")
@click.option(
    "--config",
    "config_path",
    envvar="MONITOR_CONFIG",
    default="feeds.yaml",
    show_default=True,
    help="feeds.yaml to use (env MONITOR_CONFIG).",
)
@click.option(
    "--db",
    "db_url",
    envvar="MONITOR_DB",
    default=None,
    help=(
        "SQLAlchemy URL or SQLite file path (env MONITOR_DB). Default: "
        "$STATE_DIRECTORY/monitor.db under systemd, else "
        "$XDG_DATA_HOME/india-japan-monitor/monitor.db (~/.local/share/...)."
    ),
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--log-format",
    default="kv",
    show_default=True,
    type=click.Choice(["kv", "json"]),
    help="Log lines (stderr) as key=value or JSON.",
)
@click.pass_context
def cli(
    ctx: click.Context, config_path: str, db_url: str | None, log_level: str, log_format: str
) -> None:
    """India–Japan News Monitor: watches The Japan Times, DD News and ORF for India–Japan news."""
    setup_logging(log_level, log_format)
    ctx.obj = Context(config_path, db_url)


@cli.command()
@click.pass_obj
def run(obj: Context) -> None:
    """Run the daemon: poll every source on its interval until SIGTERM or Ctrl-C."""
    loaded = obj.load()
    broken = check_imports(loaded)
    if broken:
        # A spider that cannot load would fail every crawl for as long as the daemon runs.
        for finding in broken:
            click.echo(f"config error: {finding}", err=True)
        sys.exit(EXIT_CONFIG)
    db = obj.database()
    sys.exit(run_daemon(loaded.config, db))


def _select_sources(config: Config, wanted: tuple[str, ...]) -> list[Any]:
    known = {s.id for s in config.sources}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise click.BadParameter(
            f"unknown source {', '.join(unknown)} (configured: {', '.join(sorted(known))})",
            param_hint="--source",
        )
    return [s for s in config.sources if (s.id in wanted if wanted else s.enabled)]


@cli.command()
@click.option("--source", "sources", multiple=True, metavar="ID", help="Only these sources.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.pass_obj
def poll(obj: Context, sources: tuple[str, ...], as_json: bool) -> None:
    """Poll sources once now, then exit (1 if any feed failed)."""
    loaded = obj.load()
    selected = _select_sources(loaded.config, sources)
    db = obj.database()
    reports, skipped = run_async(lambda: _poll(loaded.config, db, selected))
    if as_json:
        _print_json([r.to_json() for r in reports] + skipped)
    else:
        _print_poll(reports, skipped)
    sys.exit(1 if any(r.count("error") for r in reports) else 0)


async def _poll(
    config: Config, db: Database, selected: list[Any]
) -> tuple[list[SourceReport], list[dict[str, Any]]]:
    skipped = []
    async with Fetcher(fetch_settings(config)) as fetcher:
        refresher = Refresher(config, db, fetcher)
        if any(s.enrich and has_spider(s) for s in selected):
            refresher.crawler = CrawlRunner(config, db, refresher.pipeline, now=refresher.now)
        await asyncio.to_thread(refresher.sync_sources)
        jobs = []
        for source in selected:
            how = collection_state(source)
            if source.feeds:
                jobs.append(refresher.refresh_source(source, force=True))
            else:
                skipped.append({"source": source.id, "skipped": how})
        reports = list(await asyncio.gather(*jobs))
        if config.subscribers:
            # Alerts for what this poll stored go out now, as the daemon would send them.
            dispatcher = Dispatcher(config, db, now=refresher.now, alerts=refresher.pipeline.alerts)
            report = await dispatcher.run_once()
            skipped.append(
                {
                    "alerts": {
                        "sent": report.sent,
                        "messages": report.messages,
                        "retrying": report.retrying,
                        "failed": report.failed,
                    }
                }
            )
    return reports, skipped


def _print_poll(reports: list[SourceReport], skipped: list[dict[str, Any]]) -> None:
    console = _stdout()
    table = Table(title="Poll")
    for col in ("source", "fetched", "not modified", "new", "duplicate", "irrelevant", "errors"):
        table.add_column(col, justify="left" if col == "source" else "right")
    for r in reports:
        table.add_row(
            r.source,
            str(r.count("ok")),
            str(r.count("not_modified")),
            str(r.total("new")),
            str(r.total("duplicate")),
            str(r.total("irrelevant")),
            str(r.count("error")),
        )
    console.print(table)
    for r in reports:
        for f in r.feeds:
            if f.outcome == "error":
                console.print(
                    f"[red]error[/] {escape(r.source)} {escape(f.url)}: {escape(f.error or '')}"
                )
            elif f.warning:
                console.print(
                    f"[yellow]warning[/] {escape(r.source)} {escape(f.url)}: {escape(f.warning)}"
                )
    for s in skipped:
        if "alerts" in s:
            a = s["alerts"]
            console.print(
                f"alerts: {a['messages']} messages sent, "
                f"{a['retrying']} retrying, {a['failed']} failed"
            )
        else:
            console.print(f"skipped {escape(s['source'])}: {escape(s['skipped'])}")


@cli.command()
@click.argument("spider")
@click.option("--json", "as_json", is_flag=True, help="Print the crawl report as JSON.")
@click.pass_obj
def crawl(obj: Context, spider: str, as_json: bool) -> None:
    """Run one source's spider now (its listing pages), store what it finds, then exit.

    Exit 1 when the crawl detected a problem (nothing fetched, or the page layout changed).
    """
    loaded = obj.load()
    [source] = _select_sources(loaded.config, (spider,))
    if not has_spider(source):
        raise click.BadParameter(
            f"source {spider!r} has no spider (needs a crawl: section and a spider in spiders/)",
            param_hint="SPIDER",
        )
    db = obj.database()

    async def go() -> CrawlReport:
        async with Fetcher(fetch_settings(loaded.config)) as fetcher:
            refresher = Refresher(loaded.config, db, fetcher)
            await asyncio.to_thread(refresher.sync_sources)
            runner = CrawlRunner(loaded.config, db, refresher.pipeline, now=refresher.now)
            return await runner.crawl(source)

    report = run_async(go)
    if as_json:
        _print_json(report.to_json())
    else:
        table = Table(title=f"Crawl {source.id}")
        for name in CRAWL_COLUMNS:
            table.add_column(name.replace("_", " "), justify="right")
        table.add_row(*(str(getattr(report, name)) for name in CRAWL_COLUMNS))
        console = _stdout()
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
    from monitor.operate.backfill import (
        Backfill,
        BackfillOptions,
        SourceProgress,
        send_backfill_digest,
    )
    from monitor.operate.progress import BackfillBars, report_table

    loaded = obj.load()
    config = loaded.config
    since = parse_since(since_text, datetime.now(UTC))
    until = None
    if until_text is not None:
        until = parse_since(until_text, datetime.now(UTC), "--until")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", until_text.strip()):
            until += timedelta(days=1) - timedelta(microseconds=1)
        if until < since:
            raise click.BadParameter("is before --since", param_hint="--until")
    selected = _select_sources(config, sources)
    if sources:
        for source in selected:
            if source.backfill is None or source.id not in SPIDER_NAMES:
                raise click.BadParameter(
                    f"source {source.id!r} has no history routes (needs backfill.paths in "
                    "feeds.yaml and a spider in spiders/)",
                    param_hint="--source",
                )
    selected = [s for s in selected if s.backfill is not None and s.id in SPIDER_NAMES]
    if not selected:
        raise click.UsageError("no source has backfill.paths in feeds.yaml")
    if notify_digest and dry_run:
        raise click.UsageError("--notify-digest sends what was stored; --dry-run stores nothing")
    db = obj.database()
    options = BackfillOptions(
        since=since, until=until, max_pages=max_pages, dry_run=dry_run, restart=restart
    )
    bars = BackfillBars(since, enabled=False if as_json else None)
    summary: list[Any] = []

    async def go() -> list[SourceProgress]:
        with db.write() as conn:
            state.sync_sources(conn, [(s.id, s.name, s.feed_urls) for s in config.sources])
        job = Backfill(
            config, db, options, clock=lambda: datetime.now(UTC), on_progress=bars.update
        )
        loop = asyncio.get_running_loop()
        stops = 0
        stopping: list[asyncio.Future[None]] = []

        def request_stop() -> None:
            nonlocal stops
            stops += 1
            if stops > 1:
                os._exit(130)  # a second Ctrl-C: checkpoints are already safe on disk
            click.echo("stopping; run the same command again to resume", err=True)
            stopping.append(asyncio.ensure_future(job.stop()))

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, request_stop)
        try:
            with bars:
                reports = await job.run(selected)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        if notify_digest and not job.interrupted:
            summary.append(await send_backfill_digest(config, db, [s.id for s in selected]))
        return reports

    reports = run_async(go)
    if as_json:
        data: list[Any] = [r.to_json() for r in reports]
        if summary:
            data.append({"digest": summary[0]})
        _print_json(data)
    else:
        console = _stdout()
        console.print(report_table(reports, dry_run=dry_run))
        for r in reports:
            if r.problem:
                console.print(f"[red]problem[/] {escape(r.source)}: {escape(r.problem)}")
        if summary:
            d = summary[0]
            console.print(
                f"digest: {d['matches']} backfilled matches, {d['messages']} messages sent, "
                f"{d['retrying']} retrying, {d['failed']} failed"
            )
        if any(r.state == "interrupted" for r in reports):
            console.print("interrupted: run the same command again to resume")
    if any(r.state == "interrupted" for r in reports):
        sys.exit(130)
    sys.exit(1 if any(r.state == "failed" for r in reports) else 0)


@cli.command()
@click.option("--source", "sources", multiple=True, metavar="ID", help="Only these sources.")
@click.option("--sector", metavar="NAME", help="Only articles tagged with this sector.")
@click.option("--since", metavar="DATE", help="Published at or after: 2026-11-01, 24h, 7d.")
@click.option("--search", metavar="QUERY", help="Full-text query over title, summary and text.")
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
        _select_sources(loaded.config, sources)
    if sector and sector not in loaded.config.sectors:
        raise click.BadParameter(
            f"unknown sector {sector!r} (configured: {', '.join(loaded.config.sectors)})",
            param_hint="--sector",
        )
    since_at = parse_since(since, datetime.now(UTC)) if since else None
    db = obj.database()
    try:
        with db.read() as conn:
            rows = store.list_articles(
                conn, sources=sources, sector=sector, since=since_at, search=search, limit=limit
            )
    except OperationalError as exc:
        if search and "fts5" in str(exc).lower():
            raise click.BadParameter(
                f"not a valid full-text query: {search!r} (quote phrases, e.g. '\"rare earth\"')",
                param_hint="--search",
            ) from None
        raise
    except store.SearchError as exc:
        raise click.BadParameter(str(exc), param_hint="--search") from None
    if as_json:
        _print_json([r.to_json() for r in rows])
        return
    table = Table(title=f"Articles ({len(rows)})")
    for col in ("published (UTC)", "source", "title", "sectors", "why"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            _when(r.published_at),
            escape(r.source),
            escape(r.title),
            escape(", ".join(r.sectors)),
            escape(str(r.relevance_reason.get("text", ""))),
        )
    _stdout().print(table)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """Per source: state, last success, last error, failures, articles stored."""
    loaded = obj.load()
    db = obj.database()
    now = datetime.now(UTC)
    with db.read() as conn:
        polled = state.source_status(conn)
        latest_crawl = crawls.latest_crawls(conn)
        totals = store.count_by_source(conn)
        recent = store.count_by_source(conn, since=now - timedelta(hours=24))
        judged = source_health.assess(conn, loaded.config, now)
        reported = health_store.load(conn)
    rows: list[dict[str, Any]] = []
    for source in loaded.config.sources:
        how = collection_state(source)
        st = polled.get(source.id)
        last_crawl = latest_crawl.get(source.id)
        health = judged[source.id]
        told = reported.get(source.id)
        rows.append(
            {
                "source": source.id,
                "name": source.name,
                "state": health.state,
                "detail": health.detail or None,
                "collected_by": how,
                "last_poll": _iso(st.last_poll_at) if st else None,
                "last_success": _iso(st.last_success_at) if st else None,
                "last_error": st.last_error if st else None,
                "last_error_at": _iso(st.last_error_at) if st else None,
                "consecutive_failures": st.consecutive_failures if st else 0,
                "last_crawl": _iso(last_crawl["started_at"]) if last_crawl else None,
                "crawl_problem": last_crawl["problem"] if last_crawl else None,
                "articles": totals.get(source.id, 0),
                "articles_24h": recent.get(source.id, 0),
                "last_new_article": _iso(health.last_new_at),
                "silent_after_hours": (
                    round(health.silent_after.total_seconds() / 3600, 1)
                    if health.silent_after is not None
                    else None
                ),
                "operator_told": told.reported_state if told else None,
                "feeds": [
                    {
                        "url": f.url,
                        "last_status": f.last_status,
                        "consecutive_failures": f.consecutive_failures,
                        "last_error": f.last_error,
                        "next_fetch_at": _iso(f.next_fetch_at),
                    }
                    for f in (st.feeds if st else [])
                    if f.url in source.feed_urls
                ],
            }
        )
    if as_json:
        _print_json(rows)
        return
    table = Table(title="Sources")
    for col in ("source", "state", "last success", "failures", "articles", "24 h", "last problem"):
        table.add_column(col, overflow="fold")
    for row in rows:
        colour = {
            "ok": "green",
            "failing": "red",
            "extraction broken": "red",
            "silent": "yellow",
            "not collected": "yellow",
        }.get(row["state"], "")
        state_cell = f"[{colour}]{row['state']}[/]" if colour else row["state"]
        table.add_row(
            escape(row["source"]),
            state_cell,
            (row["last_success"] or "—").replace("T", " ")[:16],
            str(row["consecutive_failures"]),
            str(row["articles"]),
            str(row["articles_24h"]),
            escape((row["detail"] or row["crawl_problem"] or row["last_error"] or "")[:200]),
        )
    _stdout().print(table)


@cli.group()
def alerts() -> None:
    """Alert deliveries: send a test message, read the delivery log."""


@alerts.command("test")
@click.argument("subscriber")
@click.pass_obj
def alerts_test(obj: Context, subscriber: str) -> None:
    """Send a test message to every destination of SUBSCRIBER now (exit 1 if any failed)."""
    loaded = obj.load()
    try:
        sub = loaded.config.subscriber(subscriber)
    except KeyError:
        names = ", ".join(s.name for s in loaded.config.subscribers) or "none configured"
        raise click.BadParameter(f"unknown subscriber {subscriber!r} ({names})") from None
    env = secret_environment(loaded.config)
    failed = 0
    for index, url in enumerate(sub.urls):
        result = send(url, render_test(sub.name, f"test-{sub.name}-{index}"), env)
        status = "[green]sent[/]" if result.ok else f"[red]failed[/] {escape(result.error or '')}"
        _stdout().print(f"{escape(redact(url))}: {status}")
        failed += not result.ok
    sys.exit(1 if failed else 0)


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
    db = obj.database()
    with db.read() as conn:
        rows = deliveries.delivery_log(conn, subscriber=subscriber, state=status, limit=limit)
    out = [
        {
            "id": r["id"],
            "subscriber": r["subscriber"],
            "channel": r["channel"],
            "article_id": r["article_id"],
            "title": r["title"],
            "mode": r["mode"],
            "status": r["state"],
            "reason": r["reason"],
            "rules": r["rules"],
            "why": r["why"],
            "attempts": r["attempts"],
            "last_error": r["last_error"],
            "created_at": _iso(r["created_at"]),
            "due_at": _iso(r["due_at"]),
            "sent_at": _iso(r["sent_at"]),
            "message_id": r["message_id"],
        }
        for r in rows
    ]
    if as_json:
        _print_json(out)
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
    _stdout().print(table)


@cli.group()
def rules() -> None:
    """Keyword rules: try a rule on stored articles before subscribing to it."""


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
    since_at = parse_since(since, datetime.now(UTC)) if since else None
    db = obj.database()
    ruleset = RuleSet([Rule(key="try", query=parsed)])
    hits = []
    with db.read() as conn:
        for stored in store.iter_articles(conn, since=since_at):
            for match in ruleset.match(stored):
                hits.append((stored, match.terms))
            if len(hits) >= limit:
                break
    if as_json:
        _print_json(
            [
                {
                    "source": a.source_id,
                    "url": a.url,
                    "title": a.title,
                    "published_at": _iso(a.published_at),
                    "terms": terms,
                }
                for a, terms in hits
            ]
        )
        return
    table = Table(title=f"{len(hits)} stored articles match {escape(str(parsed))}")
    for col in ("published (UTC)", "source", "title", "matched"):
        table.add_column(col, overflow="fold")
    for a, terms in hits:
        table.add_row(
            _when(a.published_at), escape(a.source_id), escape(a.title), escape(", ".join(terms))
        )
    _stdout().print(table)


@cli.command()
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Only check an existing backup file DEST.")
@click.pass_obj
def backup(obj: Context, dest: Path, check: bool) -> None:
    """Write a consistent, verified copy of the database to DEST (safe while the daemon runs).

    The copy is taken with VACUUM INTO, must pass PRAGMA integrity_check, and is fsynced before it
    appears under DEST; an existing DEST is never overwritten. With --check, verify DEST instead.
    """
    if check:
        problem = backup_store.restore_check(dest)
        click.echo(f"{dest}: {problem}")
        sys.exit(0 if problem == "ok" else 1)
    db = Database(resolve_db_url(obj.db_url))
    try:
        result = backup_store.backup(db, dest)
    except (FileExistsError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="DEST") from None
    except backup_store.BackupError as exc:
        click.echo(f"backup failed: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"backup written: {result.path} ({result.bytes} bytes, {result.articles} articles, "
        f"{result.seconds:.2f}s, integrity ok)"
    )


@cli.command("check-config")
@click.option(
    "--credentials-file",
    "credentials",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Check the ${VAR}s against FILE instead of alerts.credentials_file (e.g. the file "
    "systemd's LoadCredential= copies into the service).",
)
@click.pass_obj
def check_config(obj: Context, credentials: Path | None) -> None:
    """Validate feeds.yaml and print a summary (exit 2 with file:line messages if invalid).

    Beyond the file itself: every spider and the page extractor import, every alert URL names a
    scheme Apprise knows and parses, every ${VAR} has a value in the environment or the
    credentials file, and that file can be read.
    """
    loaded = obj.load()
    findings = preflight(loaded, credentials=credentials)
    for finding in findings:
        label = "config error" if finding.level == "error" else "warning"
        click.echo(f"{label}: {finding}", err=True)
    if any(f.level == "error" for f in findings):
        sys.exit(EXIT_CONFIG)
    cfg = loaded.config
    console = _stdout()
    console.print(f"[green]OK[/] {escape(str(loaded.path))}")
    table = Table(title="Sources")
    for col in (
        "id",
        "name",
        "collected by",
        "feeds",
        "poll every",
        "listing pages",
        "crawl every",
        "backfill routes",
    ):
        table.add_column(col)
    for s in cfg.sources:
        table.add_row(
            s.id,
            escape(s.name),
            collection_state(s),
            str(len(s.feeds)),
            _every(s.poll_interval) if s.feeds else "—",
            str(len(s.crawl.listing_paths) if s.crawl else 0),
            _every(s.crawl.interval) if s.crawl else "—",
            str(len(s.backfill.paths)) if s.backfill else "—",
        )
    console.print(table)
    rel = cfg.relevance
    console.print(
        f"relevance: {len(rel.india)} India terms, {len(rel.japan)} Japan terms, "
        f"{len(rel.bilateral)} bilateral terms, near = {rel.near_words} words"
    )
    console.print(
        f"sectors ({len(cfg.sectors)}): "
        + ", ".join(f"{name} ({len(s.terms)})" for name, s in cfg.sectors.items())
    )
    console.print(
        "fetch: private networks "
        + ("[yellow]allowed[/]" if cfg.fetch.allow_private_networks else "refused")
        + f", max {cfg.fetch.max_bytes} bytes, timeout {cfg.fetch.total_timeout:g}s"
    )
    metrics = cfg.metrics
    if metrics.enabled:
        host = f"[{metrics.host}]" if ":" in metrics.host else metrics.host
        where = f"http://{host}:{metrics.port or '<any free port>'}"
        console.print(f"metrics: {escape(where)}/metrics and /healthz")
    else:
        console.print("metrics: off")
    console.print(f"database: {escape(resolve_db_url(obj.db_url))}")


def main() -> None:
    cli(prog_name="monitor")


__all__ = ["cli", "main"]
