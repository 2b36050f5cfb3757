"""The `monitor` group: global options, the context every command gets, shared option parsing.

Reads: --config / MONITOR_CONFIG and --db / MONITOR_DB. Writes: config errors to stderr.
A command's module is imported only when that command runs: `monitor --help` loads click alone,
`monitor status` never loads Scrapy, aiohttp or Apprise.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from monitor import __version__

if TYPE_CHECKING:
    from monitor.config import Config, LoadedConfig, SourceConfig
    from storage.db import Database

EXIT_CONFIG = 2

# Command → (the modules of monitor.cli that define it and its subcommands, its line in
# `monitor --help`). tests/cli/test_startup.py checks these lines against the commands' own.
COMMANDS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "alerts": (("admin", "read"), "Alert deliveries: send a test message, read the delivery log."),
    "articles": (("read",), "List stored articles, newest first, with their sectors and why "
                 "they matched."),
    "backfill": (("collect",), "Fill history from each outlet's archive pages, newest to oldest."),
    "backup": (("admin",), "Write a consistent, verified copy of the database to DEST (SQLite)."),
    "check-config": (("admin",), "Validate feeds.yaml and print a summary (exit 2 with "
                     "file:line: key: problem on error)."),
    "db": (("database",), "The database's schema: which revision it is at, and upgrading it."),
    "crawl": (("collect",), "Run one source's spider now (its listing pages), store what it "
              "finds, then exit."),
    "feeds": (("admin",), "Feeds the monitor stopped fetching (gone, or failing too long)."),
    "poll": (("collect",), "Poll sources once now, then exit (1 if any feed failed)."),
    "rejudge": (("judge",), "Judge stored articles again with the current rules; drop what "
                "they no longer keep."),
    "rules": (("read",), "Keyword rules: try a rule on stored articles before subscribing to it."),
    "run": (("collect",), "Run the daemon: poll every source on its interval until SIGTERM or "
            "Ctrl-C."),
    "sources": (("sources",), "The outlets themselves: check that collecting them works."),
    "stories": (("read",), "List stories: one event as the outlets reported it, newest first."),
    "status": (("read",), "Per source: state, last success, last error, failures, articles "
               "stored."),
    "web": (("web",), "Serve the read-only web view, JSON API and Atom feeds (this machine "
            "only by default)."),
}  # fmt: skip


class LazyGroup(click.Group):
    """A group whose commands are imported when one of them is asked for, not before."""

    def __init__(
        self, *args: Any, lazy: Mapping[str, tuple[tuple[str, ...], str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module in self.lazy.get(cmd_name, ((),))[0]:
            importlib.import_module(f"monitor.cli.{module}")  # its decorators register it
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            # A stand-in with the listed help shortens it exactly as the command itself would.
            command = click.Command(name, help=self.lazy[name][1]) if name in self.lazy else None
            line = (command or self.commands[name]).get_short_help_str(limit)
            rows.append((name, line))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@dataclass
class Context:
    config_path: str
    db_url: str | None
    auto_upgrade: bool = False  # daemon.auto_upgrade of the config last loaded

    def load(self) -> LoadedConfig:
        from monitor.config import ConfigError, load_config

        try:
            loaded = load_config(self.config_path)
            self.auto_upgrade = loaded.config.daemon.auto_upgrade
            return loaded
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"config error: {problem}", err=True)
            sys.exit(EXIT_CONFIG)

    def database(self, *, create: bool = True, schema: bool = True) -> Database:
        """The database, its schema checked (and created, or upgraded); every problem opening
        it is a clear error, exit 2. create=False: commands that only read never make a new
        file at a mistyped path. schema=False: opened as it is (backup, `db current`/`upgrade`)."""
        from storage.db import Database, DatabaseProblem, resolve_db_url, sqlite_path

        try:
            url = resolve_db_url(self.db_url)
            path = sqlite_path(url)
            if not create and path is not None and not path.exists():
                raise DatabaseProblem(
                    f"no database at {path} (check --db / MONITOR_DB, or collect first with "
                    "`monitor poll` or `monitor run`)"
                )
            db = Database(url)
            if schema:
                db.create_schema(upgrade=self.auto_upgrade)
        except DatabaseProblem as exc:
            click.echo(f"database error: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        return db


def select_sources(config: Config, wanted: tuple[str, ...]) -> list[SourceConfig]:
    """The --source ids asked for (all must exist), or every enabled source."""
    known = {s.id for s in config.sources}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise click.BadParameter(
            f"unknown source {', '.join(unknown)} (configured: {', '.join(sorted(known))})",
            param_hint="--source",
        )
    return [s for s in config.sources if (s.id in wanted if wanted else s.enabled)]


_RELATIVE = re.compile(r"^(\d+)\s*([hdw])$")


def parse_since(value: str, now: datetime, param: str = "--since") -> datetime:
    """'2026-11-01', '2026-11-01T09:00+05:30', or relative '24h' / '7d' / '2w' → aware UTC."""
    m = _RELATIVE.match(value.strip().lower())
    if m:
        hours = {"h": 1, "d": 24, "w": 168}[m.group(2)] * int(m.group(1))
        try:
            return now - timedelta(hours=hours)
        except OverflowError:
            raise click.BadParameter(
                f"{value!r} reaches back before the year 1", param_hint=param
            ) from None
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


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
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
    from monitor.operate.logs import setup_logging

    setup_logging(log_level, log_format)
    ctx.obj = Context(config_path, db_url)


@cli.group()
def alerts() -> None:
    """Alert deliveries: send a test message, read the delivery log."""


@cli.group()
def rules() -> None:
    """Keyword rules: try a rule on stored articles before subscribing to it."""
