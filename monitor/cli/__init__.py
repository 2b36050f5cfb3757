"""The `monitor` command: click only — each command parses its options, calls one function of
the stages, and prints what it returns.

Reads: feeds.yaml (--config / MONITOR_CONFIG) and the database (--db / MONITOR_DB).
Writes: tables or JSON to stdout; diagnostics to stderr.
"""

import sqlite3
import sys

import click

from monitor.cli.root import cli

__all__ = ["cli", "main"]


def main() -> None:
    try:
        cli(prog_name="monitor")
    except (sqlite3.DatabaseError, OSError) as exc:
        _fail(exc)
    except Exception as exc:
        # SQLAlchemy's errors, when a command loaded it (imported only for commands using it).
        errors = sys.modules.get("sqlalchemy.exc")
        if errors is None or not isinstance(exc, errors.DatabaseError):
            raise
        _fail(exc)


def _fail(exc: BaseException) -> None:
    # A disk that filled up, a database locked or damaged mid-command: one clear line.
    cause = getattr(exc, "orig", None) or exc
    click.echo(f"error: {type(cause).__name__}: {cause}", err=True)
    sys.exit(1)
