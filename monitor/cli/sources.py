"""`monitor sources check`: does collection work, per outlet, and why not.

Reads: feeds.yaml, the network (as collection does), the database only if it exists. Writes: one
line per URL and a verdict per source (or JSON) to stdout; exit 1 if any source does not work.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url

from monitor.cli.output import print_json
from monitor.cli.root import Context, cli, select_sources
from monitor.clock import utcnow
from storage.db import Database, resolve_db_url


@cli.group()
def sources() -> None:
    """The outlets themselves: check that collecting them works."""


def _existing_database(obj: Context) -> Database | None:
    """The database if it already exists: the check reads rhythms from it, never creates one."""
    url = resolve_db_url(obj.db_url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or not Path(path).exists():
            return None
    return Database(url)


def _printable(text: str) -> str:
    # Titles and errors come from the web: no terminal escapes or line breaks reach the screen.
    return "".join(c if c.isprintable() else " " for c in text)


@sources.command("check")
@click.option("--source", "wanted", multiple=True, metavar="ID", help="Only these sources.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of lines.")
@click.pass_obj
def check(obj: Context, wanted: tuple[str, ...], as_json: bool) -> None:
    """Ask every enabled feed and every listing and backfill route once, as collection does
    (private-network guard, robots.txt, politeness delays), and give each source a verdict:
    works, stale, blocked, broken or unreachable. Stores nothing. Exit 1 if any source does
    not work.
    """
    from monitor.operate.sources_check import check_sources, describe
    from monitor.runtime import run_async

    loaded = obj.load()
    selected = select_sources(loaded.config, wanted)
    if not selected:
        raise click.UsageError("no enabled source in feeds.yaml")
    db = _existing_database(obj)

    async def go() -> Any:
        return await check_sources(loaded.config, selected, db)

    try:
        results = run_async(go)
    finally:
        if db is not None:
            db.dispose()
    now = utcnow()
    if as_json:
        print_json([r.to_json(now) for r in results])
    else:
        for result in results:
            click.echo(f"{result.name} ({result.source})")
            for line in result.checks:
                detail = _printable(describe(line, now))
                click.echo(f"  {line.verdict:<12} {line.kind:<16} {line.url}  {detail}")
            verdict = f"{result.source}: {result.verdict}"
            click.echo(
                f"  => {verdict}" + (f": {_printable(result.reason)}" if result.reason else "")
            )
        working = sum(r.verdict == "works" for r in results)
        click.echo(f"{working} of {len(results)} sources work")
    sys.exit(0 if all(r.verdict == "works" for r in results) else 1)
