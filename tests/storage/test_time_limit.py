"""A read that runs too long is interrupted (the web view's bound on any one page's queries),
and the connection is usable afterwards; a read within its limit is untouched."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import Database, QueryTimeout, open_read_only, time_limit

ENDLESS = text(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) "
    "SELECT count(*) FROM n"
)


def test_a_long_read_is_interrupted_and_the_connection_lives_on(tmp_path: Path) -> None:
    created = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    created.create_schema()
    created.dispose()
    db = open_read_only(f"sqlite:///{tmp_path / 'monitor.db'}")
    with db.read() as conn:
        started = time.monotonic()
        with pytest.raises(QueryTimeout), time_limit(conn, 0.2):
            conn.execute(ENDLESS).scalar()
        assert time.monotonic() - started < 10  # a billion rows would take minutes
    with db.read() as conn, time_limit(conn, 5):
        assert conn.execute(text("SELECT count(*) FROM article")).scalar() == 0
    with db.read() as conn:  # no limit left behind on the pooled connection
        assert conn.execute(text("SELECT 1 + 1")).scalar() == 2


def test_the_read_only_database_refuses_writes(tmp_path: Path) -> None:
    created = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    created.create_schema()
    created.dispose()
    db = open_read_only(f"sqlite:///{tmp_path / 'monitor.db'}")
    with pytest.raises(Exception, match="readonly"), db.read() as conn:
        conn.execute(text("DELETE FROM meta"))
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM meta")).scalar() == 1
