"""The `monitor` command: click only — each command parses its options, calls one function of
the stages, and prints what it returns.

Reads: feeds.yaml (--config / MONITOR_CONFIG) and the database (--db / MONITOR_DB).
Writes: tables or JSON to stdout; diagnostics to stderr.
"""

from monitor.cli import admin, collect, judge, read
from monitor.cli.root import cli

__all__ = ["admin", "cli", "collect", "judge", "main", "read"]


def main() -> None:
    cli(prog_name="monitor")
