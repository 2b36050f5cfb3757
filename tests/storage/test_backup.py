"""Online SQLite backup (VACUUM INTO, integrity_check, fsync, rename) and restore_check."""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.backup import backup, restore_check
from storage.db import Database
from storage.models import article_table, source_table

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
_ids = itertools.count()


def _article(n: int) -> dict[str, object]:
    url = f"https://example.org/india-japan/{n}"
    return {
        "source_id": "orf",
        "url": url,
        "url_hash": hashlib.sha256(url.encode()).hexdigest(),
        "original_url": url,
        "guid": url,
        "fingerprint": hashlib.md5(url.encode()).hexdigest(),
        "title": f"India–Japan semiconductor partnership, part {n}",
        "summary": "Tokyo and New Delhi agree on chips.",
        "text": "India and Japan " * 100,
        "published_at": NOW,
        "published_from_source": True,
        "first_seen_at": NOW,
        "categories": ["economy"],
        "relevance": 1.0,
        "relevance_reason": {"rule": "bilateral"},
        "ingest_mode": "live",
    }


def _insert(db: Database, count: int) -> None:
    with db.write() as conn:
        conn.execute(article_table.insert(), [_article(next(_ids)) for _ in range(count)])


def _count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(article_table)).scalar_one())


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{db_path}")
    database.create_schema()
    with database.write() as conn:
        conn.execute(source_table.insert(), [{"id": "orf", "name": "ORF"}])
    _insert(database, 500)
    yield database
    database.dispose()


def test_backup_is_a_checked_self_contained_copy(db: Database, tmp_path: Path) -> None:
    dest = tmp_path / "backups" / "monitor-20261123T060000Z.db"
    result = backup(db, dest)
    assert result.path == dest
    assert result.articles == 500
    assert result.bytes == dest.stat().st_size > 0
    assert result.seconds >= 0
    assert dest.stat().st_mode & 0o777 == 0o600
    assert not dest.with_name(dest.name + ".tmp").exists()
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no -wal/-shm needed
    assert restore_check(dest) == "ok"
    with sqlite3.connect(dest) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        hits = conn.execute(
            "SELECT count(*) FROM article_fts WHERE article_fts MATCH 'semiconductor'"
        ).fetchone()
        assert hits == (500,)
    conn.close()


def test_backup_while_another_thread_writes(db: Database, db_path: Path, tmp_path: Path) -> None:
    writer_db = Database(f"sqlite:///{db_path}")  # its own engine, like another process
    stop = threading.Event()
    started = threading.Event()
    errors: list[BaseException] = []
    written = [0]

    def writer() -> None:
        try:
            while not stop.is_set():
                _insert(writer_db, 5)
                written[0] += 5
                started.set()
                time.sleep(0.001)
        except BaseException as exc:
            errors.append(exc)
            started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(10)
        at_start = _count(db)
        written_before = written[0]
        result = backup(db, tmp_path / "live.db")
        written_during = written[0] - written_before
    finally:
        stop.set()
        thread.join(10)
        writer_db.dispose()
    assert not errors
    assert written_during > 0  # the writer really ran while the copy was taken
    assert at_start <= result.articles <= _count(db)
    assert restore_check(result.path) == "ok"
    with sqlite3.connect(result.path) as conn:
        assert conn.execute("SELECT count(*) FROM article").fetchone() == (result.articles,)
    conn.close()
    # The live database is untouched and still consistent.
    with sqlite3.connect(db_path) as live:
        assert live.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    live.close()


def test_refuses_existing_destination(db: Database, tmp_path: Path) -> None:
    dest = tmp_path / "monitor.bak"
    dest.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="already exists"):
        backup(db, dest)
    assert dest.read_bytes() == b"precious"
    assert not dest.with_name(dest.name + ".tmp").exists()


def test_refuses_leftover_temp_file(db: Database, tmp_path: Path) -> None:
    dest = tmp_path / "monitor.bak"
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(b"from another run")
    with pytest.raises(FileExistsError, match=r"\.tmp"):
        backup(db, dest)
    assert tmp.read_bytes() == b"from another run"
    assert not dest.exists()


def test_refuses_live_database_as_destination(db: Database, db_path: Path) -> None:
    with pytest.raises(FileExistsError):
        backup(db, db_path)


def test_refuses_non_sqlite(db: Database, tmp_path: Path) -> None:
    db.is_sqlite = False
    with pytest.raises(ValueError, match="SQLite"):
        backup(db, tmp_path / "x.db")
    assert list(tmp_path.glob("x.db*")) == []


def test_refuses_in_memory_database(tmp_path: Path) -> None:
    mem = Database("sqlite://")
    try:
        with pytest.raises(ValueError, match="file-backed"):
            backup(mem, tmp_path / "x.db")
    finally:
        mem.dispose()


def test_restore_check_reports_problems(db: Database, tmp_path: Path) -> None:
    good = backup(db, tmp_path / "good.db").path
    data = good.read_bytes()

    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(data[: len(data) // 2])
    problem = restore_check(truncated)
    assert problem != "ok" and problem

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an sqlite file" * 200)
    assert "not a database" in restore_check(garbage)

    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert restore_check(empty).startswith("not a monitor database")

    missing = tmp_path / "missing.db"
    assert "not a file" in restore_check(missing)
    assert not missing.exists()  # checking never creates the file

    assert restore_check(good) == "ok"
