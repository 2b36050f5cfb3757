"""Opens the database named by a URL or file path, applies SQLite pragmas, creates the schema.

Reads: the database URL. Writes: the schema (tables, FTS5 index and its triggers) on first start.
Every write transaction on SQLite starts with BEGIN IMMEDIATE: a deferred read-then-write
transaction fails at once with "database is locked" when another process wrote in between.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from storage import models

SCHEMA_VERSION = "1"
APP_DIR = "india-japan-monitor"
DB_FILE = "monitor.db"

_FTS_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS article_fts USING fts5("
    "title, summary, text, content='article', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS article_fts_ai AFTER INSERT ON article BEGIN"
    " INSERT INTO article_fts(rowid, title, summary, text)"
    " VALUES (new.id, new.title, new.summary, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS article_fts_ad AFTER DELETE ON article BEGIN"
    " INSERT INTO article_fts(article_fts, rowid, title, summary, text)"
    " VALUES ('delete', old.id, old.title, old.summary, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS article_fts_au AFTER UPDATE OF title, summary, text ON article"
    " BEGIN INSERT INTO article_fts(article_fts, rowid, title, summary, text)"
    " VALUES ('delete', old.id, old.title, old.summary, old.text);"
    " INSERT INTO article_fts(rowid, title, summary, text)"
    " VALUES (new.id, new.title, new.summary, new.text); END",
]


def default_db_path() -> Path:
    """$STATE_DIRECTORY/monitor.db under systemd, else $XDG_DATA_HOME/india-japan-monitor/."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0]) / DB_FILE
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / APP_DIR / DB_FILE


def resolve_db_url(value: str | None) -> str:
    """A SQLAlchemy URL as given, or a file path turned into an absolute sqlite:/// URL."""
    if not value:
        value = str(default_db_path())
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


class Database:
    """The engine plus the two ways in: read() and write() transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)

    def create_schema(self) -> None:
        """Create missing tables (idempotent): safe on every start."""
        SQLModel.metadata.create_all(self.engine, tables=_tables())
        with self.write() as conn:
            _add_missing_columns(conn)
            if self.is_sqlite:
                for stmt in _FTS_DDL:
                    conn.exec_driver_sql(stmt)
            existing = conn.execute(
                text("SELECT value FROM meta WHERE key = 'schema_version'")
            ).scalar()
            if existing is None:
                conn.execute(
                    text("INSERT INTO meta (key, value) VALUES ('schema_version', :v)"),
                    {"v": SCHEMA_VERSION},
                )

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed on success."""
        with self.engine.connect() as conn:
            conn.execution_options(monitor_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def insert_for(conn: Connection, table: Any) -> Any:
    """The dialect's INSERT, with ON CONFLICT DO NOTHING / DO UPDATE (SQLite and PostgreSQL)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


def _tables() -> list[Table]:
    return [
        models.meta_table,
        models.source_table,
        models.feed_table,
        models.article_table,
        models.article_tag_table,
        models.seen_table,
        models.fetch_log_table,
        models.crawl_run_table,
        models.delivery_table,
        models.operator_notice_table,
        models.backfill_route_table,
        models.source_health_table,
    ]


def _add_missing_columns(conn: Connection) -> None:
    """Columns added to an existing table since the database was created (all nullable):
    create_all() only creates missing tables, and a database from an older version must open."""
    inspector = inspect(conn)
    for table in _tables():
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable or column.primary_key:
                raise RuntimeError(f"cannot add NOT NULL column {table.name}.{column.name}")
            kind = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get("monitor_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
