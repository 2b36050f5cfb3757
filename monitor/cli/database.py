"""`monitor db current` and `monitor db upgrade`: the database's schema revision.

Reads: the database's alembic_version row. Writes: the schema, when upgrading (one transaction:
every pending revision or none).
"""

from __future__ import annotations

import sys

import click

from monitor.cli.output import print_json
from monitor.cli.root import EXIT_CONFIG, Context, cli
from storage import schema
from storage.db import DatabaseProblem
from storage.migrations import REVISIONS


@cli.group("db")
def db_group() -> None:
    """The database's schema: which revision it is at, and upgrading it."""


@db_group.command("current")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a line.")
@click.pass_obj
def db_current(obj: Context, as_json: bool) -> None:
    """Print the database's schema revision (exit 1 when an upgrade is pending)."""
    db = obj.database(create=False, schema=False)  # reading never makes a file
    try:
        with db.read() as conn:
            at = schema.revision(conn)
    except Exception as exc:  # not a database at all: one clear line
        click.echo(f"database error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    known = at is None or at == schema.LEGACY or at in REVISIONS
    todo = schema.pending(at) if known else []
    if not known:
        state = "ahead"
    elif at is None:
        state = "empty"
    else:
        state = "behind" if todo else "current"
    if as_json:
        print_json({"revision": at, "head": schema.HEAD, "state": state, "pending": todo})
    elif state == "ahead":
        click.echo(f"revision {at}: newer than this monitor knows (newest {schema.HEAD})")
    elif state == "empty":
        click.echo(f"empty database: the first command that writes creates revision {schema.HEAD}")
    elif todo:
        click.echo(f"revision {at}: {len(todo)} to apply ({', '.join(todo)}): monitor db upgrade")
    else:
        click.echo(f"revision {at}: up to date")
    sys.exit({"ahead": EXIT_CONFIG, "behind": 1}.get(state, 0))


@db_group.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Context) -> None:
    """Bring the database to the newest schema revision, in one transaction (back it up first)."""
    db = obj.database(schema=False)
    try:
        with db.read() as conn:
            before = schema.revision(conn)
        db.create_schema(upgrade=True)
    except DatabaseProblem as exc:
        click.echo(f"database error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    if before == schema.HEAD:
        click.echo(f"revision {schema.HEAD}: already up to date")
    elif before is None:
        click.echo(f"created the schema at revision {schema.HEAD}")
    else:
        click.echo(f"upgraded from revision {before} to {schema.HEAD}")
