"""A database made by an older version is upgraded: columns added since are created."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage.db import Database

ADDED = {"crawl_run": ["problem_kind"], "feed": ["last_entries", "newest_item_at"]}


def columns(path: Path, table: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def test_columns_added_since_are_created_and_old_rows_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Database(f"sqlite:///{path}").create_schema()
    with sqlite3.connect(path) as conn:  # what the previous version's schema looked like
        conn.execute("DROP TABLE alembic_version")
        for table, names in ADDED.items():
            for name in names:
                conn.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
        conn.execute(
            "INSERT INTO crawl_run (source_id, started_at, duration_ms, listing_pages,"
            " article_links, articles, new, updated, responses, errors, problem)"
            " VALUES ('orf', '2026-01-01 00:00:00', 0, 1, 0, 0, 0, 0, 1, 0, 'layout changed?')"
        )
    assert not columns(path, "crawl_run") >= set(ADDED["crawl_run"])

    Database(f"sqlite:///{path}").create_schema(upgrade=True)
    for table, names in ADDED.items():
        assert columns(path, table) >= set(names)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT problem, problem_kind FROM crawl_run").fetchall() == [
            ("layout changed?", None)
        ]


def test_a_database_at_the_baseline_revision_gets_the_story_tables(tmp_path: Path) -> None:
    """What `monitor db upgrade` does to a database made before stories (revision 0002)."""
    path = tmp_path / "baseline.db"
    Database(f"sqlite:///{path}").create_schema()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE story_article")
        conn.execute("DROP TABLE story")
        conn.execute("UPDATE alembic_version SET version_num = '0002_story_and_alert_indexes'")
    Database(f"sqlite:///{path}").create_schema(upgrade=True)
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        at = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"story", "story_article", "ix_story_article_story_id"} <= tables
    assert at == [("0003_stories",)]
    assert columns(path, "story_article") >= {"article_id", "story_id", "evidence", "features"}
