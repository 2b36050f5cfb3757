"""Commands that administer: `check-config`, `backup` and `alerts test`.

Reads: feeds.yaml, the environment and credentials, the database. Writes: a backup file, a
test message to each destination; reports to stdout and stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from monitor.cli.output import every, stdout
from monitor.cli.root import EXIT_CONFIG, Context, alerts, cli, select_sources
from monitor.operate.health import collection_state
from monitor.operate.preflight import preflight
from storage import backup as backup_store
from storage.db import resolve_db_url


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
    console = stdout()
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
            every(s.poll_interval) if s.feeds else "—",
            str(len(s.crawl.listing_paths) if s.crawl else 0),
            every(s.crawl.interval) if s.crawl else "—",
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
    web = cfg.web
    shown = f"[{web.host}]" if ":" in web.host else web.host
    access = "token required" if web.token else "this machine only"
    console.print(f"web: `monitor web` on {escape(f'http://{shown}:{web.port}/')} ({access})")
    console.print(f"database: {escape(resolve_db_url(obj.db_url))}")


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
    from monitor.deliver.channel import Timeouts, send
    from monitor.deliver.destinations import redact, secret_environment
    from monitor.deliver.render import render_test

    env = secret_environment(loaded.config)
    failed = 0
    for index, url in enumerate(sub.urls):
        message = render_test(sub.name, f"test-{sub.name}-{index}", loaded.config.topic.name)
        alerts_cfg = loaded.config.alerts
        result = send(
            url, message, env, Timeouts(alerts_cfg.connect_timeout, alerts_cfg.send_timeout)
        )
        status = "[green]sent[/]" if result.ok else f"[red]failed[/] {escape(result.error or '')}"
        stdout().print(f"{escape(redact(url))}: {status}")
        failed += not result.ok
    sys.exit(1 if failed else 0)


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
    db = obj.database(schema=False)
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


@cli.group()
def feeds() -> None:
    """Feeds the monitor stopped fetching (gone, or failing too long): resume them."""


@feeds.command("resume")
@click.argument("urls", nargs=-1, metavar="[URL]...")
@click.option("--source", "sources", multiple=True, metavar="ID", help="Every feed of these.")
@click.pass_obj
def feeds_resume(obj: Context, urls: tuple[str, ...], sources: tuple[str, ...]) -> None:
    """Fetch suspended feeds again (all of them without URL or --source)."""
    from storage import sources as state

    loaded = obj.load()
    chosen = select_sources(loaded.config, sources)
    wanted = list(urls) or [u for s in chosen for u in s.feed_urls]
    db = obj.database(create=False)
    with db.write() as conn:
        resumed = state.resume_feeds(conn, wanted)
    for url in resumed:
        click.echo(f"resumed {url}")
    if not resumed:
        click.echo("no suspended feed matched")
