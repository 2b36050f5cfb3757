"""Revision 0002 adds the web view's two indexes (a story's articles, an article's alerts) to a
database at the baseline revision, in place; a database built whole has them already."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from storage import schema
from storage.db import Database

WANTED = {("article", "ix_article_fingerprint"), ("delivery", "ix_delivery_article")}


def indexes(db: Database) -> set[tuple[str, str]]:
    with db.read() as conn:
        found = inspect(conn)
        return {(t, i["name"]) for t in ("article", "delivery") for i in found.get_indexes(t)}


def test_an_upgrade_from_the_baseline_adds_the_indexes(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    db.create_schema()
    assert indexes(db) >= WANTED
    with db.write() as conn:  # the database as the baseline release left it
        conn.exec_driver_sql("DROP INDEX ix_article_fingerprint")
        conn.exec_driver_sql("DROP INDEX ix_delivery_article")
        conn.execute(text("UPDATE alembic_version SET version_num = '0001_baseline'"))
    with pytest.raises(schema.SchemaBehind):
        db.create_schema()
    db.create_schema(upgrade=True)
    assert indexes(db) >= WANTED
    with db.read() as conn:
        assert schema.revision(conn) == schema.HEAD  # through 0002 and every revision after it
    assert "0002_story_and_alert_indexes" in schema.REVISIONS
