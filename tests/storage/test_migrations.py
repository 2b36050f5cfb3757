"""Schema revisions: a database of the previous release upgraded in place, a newer one refused,
an upgrade only when asked for, and all of it or nothing.

tests/data/releases/previous.db is SYNTHETIC, written by the release before migrations (9e9c538)
with tests/data/releases/make_previous.py: a DD News backfill (articles, checkpoints, suppressed
deliveries) and two polls of a feed (a baseline, then two sent alerts).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import schema
from storage.db import Database
from storage.sources import sync_sources
from tests.conftest import DATA, write_config
from tests.processes import Stderr, monitor, start, stop

PREVIOUS = DATA / "releases" / "previous.db"
KEPT = {
    "article": "SELECT url, title, published_at FROM article ORDER BY url",
    "delivery": "SELECT article_id, state, reason, message_id FROM delivery ORDER BY id",
    "backfill_route": "SELECT source_id, route, state, next_url, pages FROM backfill_route",
    "seen_item": "SELECT source_id, key, verdict FROM seen_item ORDER BY source_id, key",
}


def snapshot(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in KEPT.items()}


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    copy = tmp_path / "previous.db"
    shutil.copy(PREVIOUS, copy)
    return copy


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    src = {"id": "ddnews", "name": "DD", "base_url": "http://127.0.0.1:9", "feeds": ["/feed/"]}
    return write_config(tmp_path / "feeds.yaml", [src])


def test_the_previous_release_is_upgraded_in_place_only_when_asked(
    previous: Path, cfg: Path, tmp_path: Path
) -> None:
    before = snapshot(previous)
    assert before["article"] and before["backfill_route"]
    assert {state for _, state, _, _ in before["delivery"]} == {"sent", "suppressed"}
    current = monitor("db", "current", "--json", config=cfg, db=previous)
    assert current.returncode == 1
    assert json.loads(current.stdout)["state"] == "behind"
    for command in (["poll"], ["status"]):  # neither writes nor reads half-way
        refused = monitor(*command, config=cfg, db=previous)
        assert refused.returncode == 2 and "monitor db upgrade" in refused.stderr
        assert "Traceback" not in refused.stderr
    backup = monitor("backup", str(tmp_path / "before-upgrade.db"), config=cfg, db=previous)
    assert backup.returncode == 0, backup.stderr  # the advised backup works on the old schema

    upgraded = monitor("db", "upgrade", config=cfg, db=previous)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"to {schema.HEAD}" in upgraded.stdout
    assert snapshot(previous) == before  # every article, delivery and checkpoint kept
    with sqlite3.connect(previous) as conn:
        feed_columns = {row[1] for row in conn.execute("PRAGMA table_info(feed)")}
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "entry_records" in feed_columns and "job_lease" in tables  # this release's schema
    assert monitor("db", "current", config=cfg, db=previous).returncode == 0
    listed = monitor("articles", "--json", "--limit", "1000", config=cfg, db=previous)
    assert len(json.loads(listed.stdout)) == len(before["article"])
    again = monitor("db", "upgrade", config=cfg, db=previous)
    assert again.returncode == 0 and "already up to date" in again.stdout


def test_auto_upgrade_lets_the_daemon_upgrade_at_start(previous: Path, tmp_path: Path) -> None:
    src = {"id": "ddnews", "name": "DD", "base_url": "http://127.0.0.1:9", "feeds": ["/feed/"]}
    refused = write_config(tmp_path / "a.yaml", [src])
    proc = start(refused, previous)
    log = Stderr(proc)
    assert proc.wait(timeout=60) == 2
    stop(proc, log)
    assert "monitor db upgrade" in log.text
    allowed = write_config(tmp_path / "b.yaml", [src], daemon={"auto_upgrade": True})
    before = snapshot(previous)
    proc = start(allowed, previous)
    log = Stderr(proc)
    log.wait_for("daemon started", timeout=60)
    assert stop(proc, log) == 0
    assert snapshot(previous) == before
    with sqlite3.connect(previous) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (schema.HEAD,)
        ]


def test_a_schema_newer_than_the_monitor_is_refused(db_url: str, cfg: Path) -> None:
    db = Database(db_url)
    db.create_schema()
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    db.dispose()
    for command in (["poll"], ["db", "upgrade"]):
        refused = monitor(*command, config=cfg, db=db_url)
        assert refused.returncode == 2, refused.stderr
        assert "newer than this monitor knows" in refused.stderr
    assert monitor("db", "current", config=cfg, db=db_url).returncode == 2


def test_a_new_database_starts_at_the_newest_revision(db_url: str) -> None:
    db = Database(db_url)
    db.create_schema()
    with db.read() as conn:
        assert schema.revision(conn) == schema.HEAD
    db.create_schema()  # a second start changes nothing
    db.dispose()


def test_a_failing_upgrade_leaves_the_database_as_it_was(
    previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage.db

    real = storage.db.build_baseline

    def half_way(conn: object) -> None:
        real(conn)  # type: ignore[arg-type]  # every table made, then the revision fails
        raise RuntimeError("disk full (simulated) in the middle of a revision")

    monkeypatch.setattr(storage.db, "build_baseline", half_way)
    with sqlite3.connect(previous) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    db = Database(f"sqlite:///{previous}")
    with pytest.raises(RuntimeError, match="simulated"):
        db.create_schema(upgrade=True)
    db.dispose()
    with sqlite3.connect(previous) as conn:
        after = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert after == tables  # no new table, no alembic_version: the whole upgrade rolled back


def test_alembic_agrees_with_the_revision_list() -> None:
    from importlib.resources import files

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(files("storage") / "migrations"))
    script = ScriptDirectory.from_config(config)
    assert script.get_current_head() == schema.HEAD
    walked = [rev.revision for rev in script.walk_revisions()]
    assert list(reversed(walked)) == list(schema.REVISIONS)


def test_a_database_from_before_migrations_is_upgraded_on_either_backend(
    db_url: str, cfg: Path
) -> None:
    """What the previous release's schema lacks (this release's columns and tables, the revision
    row) is taken away from a fresh database; the upgrade puts it back and keeps the rows."""
    db = Database(db_url)
    db.create_schema()
    with db.write() as conn:
        sync_sources(conn, [("dd", "DD", ["https://dd/feed"])])
        conn.execute(text("ALTER TABLE feed DROP COLUMN entry_records"))
        conn.execute(text("DROP TABLE job_lease"))
        conn.execute(text("DROP TABLE alembic_version"))
    db.dispose()
    assert monitor("poll", config=cfg, db=db_url).returncode == 2
    upgraded = monitor("db", "upgrade", config=cfg, db=db_url)
    assert upgraded.returncode == 0, upgraded.stderr
    db = Database(db_url)
    with db.read() as conn:
        assert conn.execute(text("SELECT url, entry_records FROM feed")).all() == [
            ("https://dd/feed", None)
        ]
        assert conn.execute(text("SELECT count(*) FROM job_lease")).scalar() == 0
        assert schema.revision(conn) == schema.HEAD
    db.dispose()
