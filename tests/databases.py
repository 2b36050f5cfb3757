"""Databases for tests: a fresh SQLite file, or a fresh PostgreSQL database on the machine's server.

Reads: MONITOR_TEST_PG (default postgresql://postgres@127.0.0.1:5432/test), the server every test
run uses. Writes: one database per test (CREATE DATABASE t_<random>), dropped when the test ends.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.db import Database

PG_ADMIN = os.environ.get("MONITOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _admin_dsn() -> str:
    return PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; its URL. Dropped afterwards (FORCE)."""
    import psycopg

    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(_admin_dsn(), autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = _admin_dsn().rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(_admin_dsn(), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of this kind ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
        return
    with postgres_database() as url:
        yield url


_backend: dict[str, str] = {}
_opened: list[Database] = []


@contextmanager
def on_backend(url: str) -> Iterator[None]:
    """While a test runs: open_database() opens databases at `url`; all are disposed after (on
    PostgreSQL no connection may stay open on a database about to be dropped)."""
    _backend["url"] = url
    try:
        yield
    finally:
        for database in _opened:
            database.dispose()
        _opened.clear()
        _backend.clear()


def open_database() -> Database:
    """A Database on the running test's backend (the conftest fixture every_backend)."""
    database = Database(_backend["url"])
    _opened.append(database)
    return database
