"""Opens the database named by a URL or file path, applies SQLite pragmas, creates the schema.

Reads: the database URL. Writes: the schema (tables, FTS5 index and its triggers) on first start.
Every write transaction on SQLite starts with BEGIN IMMEDIATE: a deferred read-then-write
transaction fails at once with "database is locked" when another process wrote in between.
Within a process the writers take turns on a lock first, so SQLite's busy timeout only ever
covers other processes: however slow the machine, no thread's write times out behind another's.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError
from sqlmodel import SQLModel

from storage import models
from storage.fulltext import PG_DOCUMENT

SCHEMA_VERSION = "1"
_SCHEMA_LOCK = 0x6D6F6E69  # PostgreSQL advisory lock key held while the schema is created
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


_PG_FTS_DDL = f"CREATE INDEX IF NOT EXISTS article_fts_pg ON article USING GIN ({PG_DOCUMENT})"


def default_db_path() -> Path:
    """$STATE_DIRECTORY/monitor.db under systemd, else $XDG_DATA_HOME/india-japan-monitor/."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0]) / DB_FILE
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / APP_DIR / DB_FILE


class DatabaseProblem(RuntimeError):
    """The database cannot be used: a bad URL, a missing driver, a file that is not a monitor
    database. str() says why, for the user."""


_SCHEME_ONLY = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(?!//)")


def resolve_db_url(value: str | None) -> str:
    """A SQLAlchemy URL as given, or a file path turned into an absolute sqlite:/// URL."""
    if not value:
        value = str(default_db_path())
    if "://" in value:
        return value
    if _SCHEME_ONLY.match(value) and not re.match(r"^[A-Za-z]:[\\/]", value):
        # "sqlite:/srv/x.db" would otherwise become a file of that name in the current directory.
        raise DatabaseProblem(
            f"{value!r} is not a database URL: write sqlite:////abs/path.db (four slashes for "
            "an absolute path), postgresql://user@host/db, or a plain file path"
        )
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def sqlite_path(url: str) -> Path | None:
    """The file of a file-backed SQLite URL, else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


class DaemonRunning(RuntimeError):
    """Another `monitor run` holds this SQLite database; str() says which process."""


class NestedWrite(RuntimeError):
    """A write transaction opened inside another on the same thread: it would wait for itself."""


class Database:
    """The engine plus the two ways in: read() and write() transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._writer = threading.Lock()  # one write transaction at a time in this process
        self._writing = threading.local()
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise DatabaseProblem(f"not a database URL: {exc}") from None
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            path = sqlite_path(url)
            if path is not None:
                if path.is_dir():
                    raise DatabaseProblem(f"{path} is a directory, not a database file")
                path.parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except ModuleNotFoundError as exc:
            raise DatabaseProblem(_missing_driver(parsed.get_backend_name(), exc)) from None
        except (ArgumentError, NoSuchModuleError) as exc:
            raise DatabaseProblem(f"cannot use {parsed.drivername}: {exc}") from None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)

    def create_schema(self, *, check: bool = True, upgrade: bool = False) -> None:
        """Make an empty database the newest schema, or check a used one's revision: safe on
        every start. An older revision is upgraded only with upgrade=True (else SchemaBehind), a
        newer one is refused (SchemaAhead). On SQLite, first refuse a file holding triggers,
        views or tables the monitor did not create (SchemaError)."""
        try:
            self._create_schema(check, upgrade)
        except DatabaseError as exc:
            where = sqlite_path(self.url) or make_url(self.url).render_as_string()
            cause = str(exc.orig) if exc.orig is not None else str(exc)
            raise DatabaseProblem(
                f"{where}: cannot be opened as the monitor's database: {cause}"
            ) from None

    def _create_schema(self, check: bool, upgrade: bool) -> None:
        from storage import schema

        if check and self.is_sqlite:
            from storage.schema_guard import MASTER
            from storage.schema_guard import check as check_schema

            with self.engine.connect() as conn:
                check_schema(conn.exec_driver_sql(MASTER).fetchall())
        with self.write() as conn:
            if not self.is_sqlite:
                # Daemons starting together on one PostgreSQL database: one creates or upgrades,
                # the others wait for its commit and then find the schema there.
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            at = schema.revision(conn)
            if at is None:  # an empty database: the newest schema at once
                build_baseline(conn)
                schema.stamp(conn)
                return
            schema.check(at, upgrade=upgrade)
            if at != schema.HEAD:
                schema.upgrade(conn, at)

    @contextmanager
    def write(self, *, durable: bool = False) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed on success.

        durable: on SQLite the commit is synced to disk (synchronous=FULL) before this returns.
        WAL's usual NORMAL may lose the last commits on power loss; for the outbox (a new
        article with its deliveries, a claim, a "sent" mark) that would mean an alert repeated,
        so those writes pay the ~1 ms sync (bench/durability_bench.py) and the rest do not.
        """
        if getattr(self._writing, "active", False):
            raise NestedWrite("a write transaction inside another one on the same thread")
        # PostgreSQL lets writers of different rows proceed together; SQLite has one writer.
        turn = self._writer if self.is_sqlite else contextlib.nullcontext()
        with turn, self.engine.connect() as conn:
            self._writing.active = True
            conn.execution_options(monitor_write=True)
            raw: Any = conn.connection.driver_connection if durable and self.is_sqlite else None
            if raw is not None:
                raw.execute("PRAGMA synchronous=FULL")  # only allowed outside a transaction
            try:
                with conn.begin():
                    yield conn
            finally:
                self._writing.active = False
                if raw is not None:
                    raw.execute("PRAGMA synchronous=NORMAL")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def daemon_lock(self) -> Iterator[None]:
        """One daemon per SQLite file: an exclusive lock on <file>.daemon.lock for as long as
        the daemon runs (the kernel drops it when the process dies, however it dies). Other
        commands (poll, backfill, status …) may run beside it; they never take this lock."""
        database = make_url(self.url).database
        if not self.is_sqlite or not database or database == ":memory:":
            yield  # PostgreSQL: several daemons share the work (leases on jobs and claims)
            return
        path = Path(database + ".daemon.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode("ascii", "replace").strip() or "unknown"
                raise DaemonRunning(
                    f"another `monitor run` (pid {holder}) already uses {database}; only one "
                    "daemon may run per SQLite database (stop it, or use PostgreSQL for several)"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock


def build_baseline(conn: Connection) -> None:
    """The baseline revision's schema on this connection: missing tables, columns added since a
    table was made, the full-text index, the meta row. Idempotent (IF NOT EXISTS throughout)."""
    SQLModel.metadata.create_all(conn, tables=_tables())
    _add_missing_columns(conn)
    if conn.dialect.name == "sqlite":
        for stmt in _FTS_DDL:
            conn.exec_driver_sql(stmt)
    else:
        conn.exec_driver_sql(_PG_FTS_DDL)
    existing = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar()
    if existing is None:
        conn.execute(
            text("INSERT INTO meta (key, value) VALUES ('schema_version', :v)"),
            {"v": SCHEMA_VERSION},
        )


def open_read_only(url: str) -> Database:
    """An existing monitor database that this process can only read (the web view): nothing is
    created at a mistyped path, no schema is written, and every connection refuses writes."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise DatabaseProblem(
            f"no database at {path} (check --db / MONITOR_DB, or collect first with "
            "`monitor poll` or `monitor run`)"
        )
    db = Database(url)
    event.listen(db.engine, "connect", _sqlite_query_only if db.is_sqlite else _pg_read_only)
    from storage import schema

    try:
        with db.read() as conn:
            at = schema.revision(conn)
    except DatabaseError as exc:
        cause = str(exc.orig) if exc.orig is not None else str(exc)
        raise DatabaseProblem(f"{path or url}: not the monitor's database: {cause}") from None
    if at is None:
        raise DatabaseProblem(f"{path or url}: not the monitor's database (it has no tables)")
    schema.check(at, upgrade=True)  # a newer monitor's schema is refused; an older one is read
    return db


class QueryTimeout(DatabaseProblem):
    """A read took longer than its time limit and was interrupted."""


@contextmanager
def time_limit(conn: Connection, seconds: float) -> Iterator[None]:
    """Interrupt any statement of this block still running after `seconds` (QueryTimeout), so
    one expensive search cannot hold the database: SQLite's progress handler, PostgreSQL's
    statement_timeout (for the rest of the transaction)."""
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")
        try:
            yield
        except OperationalError as exc:
            raise QueryTimeout(f"the query took longer than {seconds:g} s") from exc
        return
    raw: Any = conn.connection.driver_connection
    deadline = time.monotonic() + seconds
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 2000)
    try:
        yield
    except OperationalError as exc:
        if "interrupted" not in str(exc.orig):
            raise
        raise QueryTimeout(f"the query took longer than {seconds:g} s") from None
    finally:
        raw.set_progress_handler(None, 0)


def _sqlite_query_only(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA query_only=ON")


def _pg_read_only(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cur.close()


def insert_for(conn: Connection, table: Any) -> Any:
    """The dialect's INSERT, with ON CONFLICT DO NOTHING / DO UPDATE (SQLite and PostgreSQL)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql  # ~50 ms of imports an SQLite run never needs

        return postgresql.insert(table)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


def _add_missing_columns(conn: Connection) -> None:
    """Columns added since a database was created (nullable or with a default), so an older
    file keeps working after an upgrade."""
    known = inspect(conn)
    for table in _tables():
        have = {c["name"] for c in known.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            default = " DEFAULT 0" if not column.nullable else ""
            conn.exec_driver_sql(
                f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{default}'
            )


def _missing_driver(backend: str, exc: ModuleNotFoundError) -> str:
    if backend == "postgresql":
        return (
            "PostgreSQL needs its driver: pip install 'india-japan-monitor[postgres]' "
            f"(psycopg 3; {exc})"
        )
    return f"no driver for {backend}: {exc}"


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
        models.story_table,
        models.story_article_table,
        models.job_lease_table,
    ]


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
