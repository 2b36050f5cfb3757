"""The `monitor` command: click only — each command parses its options, calls one function of
the stages, and prints what it returns.

Reads: feeds.yaml (--config / MONITOR_CONFIG) and the database (--db / MONITOR_DB).
Writes: tables or JSON to stdout; diagnostics to stderr.
"""

import sqlite3
import sys

import click
from sqlalchemy.exc import DatabaseError

from monitor.cli import admin, collect, read, sources
from monitor.cli.root import cli

__all__ = ["admin", "cli", "collect", "main", "read", "sources"]


def main() -> None:
    try:
        cli(prog_name="monitor")
    except (DatabaseError, sqlite3.DatabaseError, OSError) as exc:
        # A disk that filled up, a database locked or damaged mid-command: one clear line.
        cause = getattr(exc, "orig", None) or exc
        click.echo(f"error: {type(cause).__name__}: {cause}", err=True)
        sys.exit(1)
