"""`monitor web`: serves the read-only web view, the JSON API and the Atom feeds.

Reads: feeds.yaml (the web section), the web token's value and the database, read-only.
Writes: HTTP responses and log lines; never the database.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import click

from monitor.cli.root import EXIT_CONFIG, Context, cli
from monitor.config import LoadedConfig, is_loopback_host


@cli.command()
@click.option("--host", metavar="HOST", help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Port (default: web.port, 8765; 0: any free)."
)
@click.pass_obj
def web(obj: Context, host: str | None, port: int | None) -> None:
    """Serve the read-only web view, JSON API and Atom feeds (this machine only by default)."""
    loaded = obj.load()
    settings = loaded.config.web
    host = (host or settings.host).strip().removeprefix("[").removesuffix("]")
    if not settings.allow_remote and not is_loopback_host(host):
        click.echo(
            f"config error: {loaded.where('web', 'allow_remote')}: --host {host} is not a "
            "loopback address; set web.allow_remote: true and web.token to serve beyond "
            "this machine",
            err=True,
        )
        sys.exit(EXIT_CONFIG)
    token = _token(loaded)
    from storage.db import DatabaseProblem, open_read_only, resolve_db_url

    try:
        db = open_read_only(resolve_db_url(obj.db_url))
    except DatabaseProblem as exc:
        click.echo(f"database error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    from monitor.web.server import serve

    try:
        asyncio.run(
            serve(loaded.config, db, host, port if port is not None else settings.port, token)
        )
    except OSError as exc:
        click.echo(f"web error: cannot listen on {host}: {exc}", err=True)
        sys.exit(1)
    finally:
        db.dispose()


def _token(loaded: LoadedConfig) -> str | None:
    """web.token's value: the ${VAR} it names, from the environment or alerts.credentials_file."""
    placeholder = loaded.config.web.token
    if placeholder is None:
        return None
    from monitor.deliver.destinations import load_credentials
    from monitor.operate.logs import add_secrets

    name = re.sub(r"^\$\{(.*)\}$", r"\1", placeholder)
    path = loaded.config.alerts.credentials_file
    try:
        credentials = load_credentials(Path(path) if path else None)
    except (OSError, ValueError) as exc:
        click.echo(f"config error: {loaded.where('alerts', 'credentials_file')}: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    import os

    value = credentials.get(name) or os.environ.get(name)
    if not value:
        click.echo(
            f"config error: {loaded.where('web', 'token')}: ${{{name}}} is not set "
            "(environment or alerts.credentials_file)",
            err=True,
        )
        sys.exit(EXIT_CONFIG)
    add_secrets([value])
    return value
