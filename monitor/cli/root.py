"""The `monitor` group: global options, the context every command gets, shared option parsing.

Reads: --config / MONITOR_CONFIG and --db / MONITOR_DB. Writes: config errors to stderr.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import click

from monitor import __version__
from monitor.config import Config, ConfigError, LoadedConfig, SourceConfig, load_config
from monitor.operate.logs import setup_logging
from storage.db import Database, DatabaseProblem, resolve_db_url, sqlite_path

EXIT_CONFIG = 2


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

    def database(self, *, create: bool = True) -> Database:
        """The database, its schema checked (and created, or upgraded); every problem opening
        it is a clear error, exit 2. create=False: commands that only read never make a new
        file at a mistyped path."""
        try:
            url = resolve_db_url(self.db_url)
            path = sqlite_path(url)
            if not create and path is not None and not path.exists():
                raise DatabaseProblem(
                    f"no database at {path} (check --db / MONITOR_DB, or collect first with "
                    "`monitor poll` or `monitor run`)"
                )
            db = Database(url)
            db.create_schema()
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


@cli.group()
def alerts() -> None:
    """Alert deliveries: send a test message, read the delivery log."""


@cli.group()
def rules() -> None:
    """Keyword rules: try a rule on stored articles before subscribing to it."""
