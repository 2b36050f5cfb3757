"""Online SQLite backups: VACUUM INTO a temp file, integrity_check it, fsync, rename into place.

Reads: the live database (a consistent snapshot; writers carry on under WAL). Writes: one new
backup file (mode 0600) and its temp file next to it; never touches the live database.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.db import Database
from storage.schema_guard import MASTER, foreign_objects

_PROBLEM_LINES = 5  # integrity_check lines kept in an error message


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    articles: int  # rows of table `article` in the copy
    seconds: float


class BackupError(RuntimeError):
    """The copy was made but failed its check; it has been removed."""


def backup(db: Database, dest: Path) -> BackupResult:
    """Write a checked, self-contained copy of the SQLite database `db` to `dest`.

    Raises ValueError if db is not a file-backed SQLite database, FileExistsError if dest (or
    its temp file, dest + ".tmp") exists, BackupError if the copy fails integrity_check.
    Missing parent directories of dest are created.
    """
    started = time.monotonic()
    if not db.is_sqlite:
        url = make_url(db.url)
        if url.get_backend_name() == "postgresql":
            plain = url.set(drivername="postgresql").render_as_string(hide_password=True)
            raise ValueError(
                "on PostgreSQL back up with the server's own tools, which copy a consistent "
                f"snapshot while daemons run: pg_dump -Fc -f monitor.dump '{plain}'; restore into "
                "an empty database with pg_restore --no-owner -d URL monitor.dump"
            )
        raise ValueError(f"backup supports SQLite and PostgreSQL, not {url.drivername}")
    database = make_url(db.url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise ValueError(f"backup needs a file-backed SQLite database, not {db.url!r}")
    dest = Path(dest)
    if dest.exists() or dest.is_symlink():
        raise FileExistsError(f"backup destination {dest} already exists: choose a new name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    try:
        # O_EXCL: a concurrent backup to the same name, or a leftover, is never overwritten.
        # VACUUM INTO accepts an existing empty file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise FileExistsError(
            f"temporary backup file {tmp} already exists (another backup running, or left over "
            "from an interrupted one: remove it)"
        ) from None
    os.close(fd)
    try:
        raw = db.engine.raw_connection()
        try:
            # The pool's connections run in autocommit (isolation_level None): VACUUM cannot
            # run inside a transaction. The copy is one read snapshot of the live database.
            cursor = raw.cursor()
            cursor.execute("VACUUM INTO ?", (str(tmp),))
            cursor.close()
        finally:
            raw.close()
        problem = _check(tmp)
        if problem != "ok":
            raise BackupError(f"backup copy of {database} failed integrity_check: {problem}")
        articles = _count_articles(tmp)
        _fsync_file(tmp)
        _link_into_place(tmp, dest)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(dest.parent)
    return BackupResult(
        path=dest,
        bytes=dest.stat().st_size,
        articles=articles,
        seconds=time.monotonic() - started,
    )


def restore_check(path: Path) -> str:
    """'ok' if path is an intact monitor database (integrity_check, schema_version), else why not.

    Opens the file read-only; never creates or modifies it.
    """
    path = Path(path)
    if not path.is_file():
        return f"{path}: not a file"
    problem = _check(path)
    if problem != "ok":
        return problem
    try:
        with contextlib.closing(_open_ro(path)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error as exc:
        return f"not a monitor database: {exc}"
    if row is None:
        return "not a monitor database: no schema_version in table meta"
    try:
        with contextlib.closing(_open_ro(path)) as conn:
            foreign = foreign_objects(conn.execute(MASTER).fetchall())
    except sqlite3.Error as exc:
        return f"not a monitor database: {exc}"
    if foreign:
        return "schema objects the monitor did not create: " + ", ".join(foreign[:10])
    return "ok"


def _open_ro(path: Path) -> sqlite3.Connection:
    uri = path.resolve().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)


def _check(path: Path) -> str:
    """PRAGMA integrity_check: exactly 'ok', or the first problems reported (or the error)."""
    try:
        with contextlib.closing(_open_ro(path)) as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.Error as exc:
        return f"{type(exc).__name__}: {exc}"
    lines = [str(row[0]) for row in rows]
    if lines == ["ok"]:
        return "ok"
    if not lines:
        return "integrity_check returned nothing"
    more = len(lines) - _PROBLEM_LINES
    shown = "; ".join(lines[:_PROBLEM_LINES])
    return shown + (f"; … {more} more" if more > 0 else "")


def _count_articles(path: Path) -> int:
    with contextlib.closing(_open_ro(path)) as conn:
        row = conn.execute("SELECT count(*) FROM article").fetchone()
    return int(row[0])


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _link_into_place(tmp: Path, dest: Path) -> None:
    """Rename tmp to dest without ever replacing an existing dest."""
    try:
        os.link(tmp, dest)  # fails with FileExistsError instead of clobbering
    except FileExistsError:
        raise FileExistsError(f"backup destination {dest} appeared during the backup") from None
    except OSError:
        # A filesystem without hard links: check, then rename (a small race, accepted).
        if dest.exists():
            raise FileExistsError(f"backup destination {dest} already exists") from None
        os.rename(tmp, dest)
        return
    os.unlink(tmp)


def _remove(tmp: Path) -> None:
    for path in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-journal", "-wal", "-shm"))):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
