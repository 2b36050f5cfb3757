"""Which schema revision a database is at, and bringing it to the newest (Alembic).

Reads/writes: the alembic_version table, and the schema through the revisions in migrations/.
Start-up reads one row; Alembic itself is imported only when a database is upgraded.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, inspect, text

from storage.db import DatabaseProblem
from storage.migrations import HEAD, REVISIONS

LEGACY = "(before migrations)"  # made by a release without alembic_version

__all__ = ["HEAD", "LEGACY", "SchemaAhead", "SchemaBehind", "check", "revision", "stamp"]


class SchemaBehind(DatabaseProblem):
    """The database is at an older revision and upgrading was not asked for."""


class SchemaAhead(DatabaseProblem):
    """The database was upgraded by a newer monitor than this one."""


def revision(conn: Connection) -> str | None:
    """The database's revision, LEGACY for one made before migrations, None when empty."""
    tables = set(inspect(conn).get_table_names())
    if "alembic_version" in tables:
        at = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if at is not None:
            return str(at)
    return LEGACY if "article" in tables else None


def pending(at: str | None) -> list[str]:
    """The revisions an upgrade from `at` applies, oldest first."""
    if at in (None, LEGACY):
        return list(REVISIONS)
    return list(REVISIONS[REVISIONS.index(at) + 1 :]) if at in REVISIONS else []


def check(at: str, *, upgrade: bool) -> None:
    """Refuse a newer schema always, an older one unless upgrading was asked for."""
    if at != LEGACY and at not in REVISIONS:
        raise SchemaAhead(
            f"the database is at schema revision {at}, newer than this monitor knows (newest "
            f"{HEAD}): a newer monitor upgraded it; install that version (downgrades are not "
            "supported: restore a backup made before the upgrade)"
        )
    if at != HEAD and not upgrade:
        raise SchemaBehind(
            f"the database is at schema revision {at}; this monitor needs {HEAD} "
            f"({len(pending(at))} to apply). Back it up (`monitor backup`), then run "
            "`monitor db upgrade`, or set daemon.auto_upgrade: true"
        )


def stamp(conn: Connection) -> None:
    """Record that a schema just built whole is at HEAD (Alembic's own table and row)."""
    conn.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
    )
    conn.exec_driver_sql("DELETE FROM alembic_version")
    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD})


def upgrade(conn: Connection, at: str) -> list[str]:
    """Apply every pending revision inside the caller's transaction; returns what was applied.

    A failing revision rolls the whole upgrade back with the transaction: never half-way.
    """
    from importlib.resources import files

    from alembic import command
    from alembic.config import Config

    steps = pending(at)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin
    config = Config()
    config.set_main_option("script_location", str(files("storage") / "migrations"))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
    return steps
