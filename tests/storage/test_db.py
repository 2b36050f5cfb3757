"""The database's ways in: writers of one process take turns, readers never wait for them."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from storage.db import Database, NestedWrite


def impatient(path: Path) -> Database:
    """A database whose SQLite busy timeout is 20 ms instead of 30 s: a writer that had to wait
    on SQLite for another thread's transaction would fail with "database is locked" at once."""
    db = Database(f"sqlite:///{path}")

    def short_timeout(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=20")

    event.listen(db.engine, "connect", short_timeout)
    db.create_schema()
    with db.write() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS tally (n INTEGER)"))
    return db


def test_writers_of_one_process_never_see_database_is_locked(tmp_path: Path) -> None:
    db = impatient(tmp_path / "m.db")
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(5):
                with db.write() as conn:
                    conn.execute(text("INSERT INTO tally VALUES (1)"))
                    time.sleep(0.03)  # a slow machine: each write holds the lock longer than 20 ms
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for t in threads:
        t.start()
    with db.read() as conn:  # a reader meanwhile does not wait for the writers
        assert conn.execute(text("SELECT count(*) FROM tally")).scalar() is not None
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM tally")).scalar() == 30


def test_a_write_inside_a_write_is_refused_rather_than_waiting_for_itself(tmp_path: Path) -> None:
    db = impatient(tmp_path / "m.db")
    with db.write(), pytest.raises(NestedWrite):  # noqa: SIM117 - the inner one is the test
        with db.write():
            pass
    with db.write() as conn:  # the outer one finished normally, the next one works
        conn.execute(text("INSERT INTO tally VALUES (1)"))
