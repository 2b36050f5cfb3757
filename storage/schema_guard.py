"""Refuses a SQLite database holding schema objects the monitor did not create.

Reads: sqlite_master of a database, and of a fresh in-memory copy of the monitor's own schema.
Writes: nothing. A restored backup or a hand-made file could carry a trigger or view that runs
an attacker's SQL on the next poll; tables and indexes are checked by name (columns added by
an upgrade change their stored SQL), triggers and views by name and exact SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from storage.db import Database, DatabaseProblem

_INTERNAL = re.compile(r"^sqlite_")  # SQLite's own: sqlite_sequence, sqlite_autoindex_*, stat
MASTER = "SELECT type, name, sql FROM sqlite_master"
Row = tuple[str, str, str | None]


class SchemaError(DatabaseProblem):
    """The database holds objects the monitor did not create; str() names them."""


def _normal(sql: str | None) -> str:
    return " ".join((sql or "").split()).rstrip(";").lower()


@cache
def _expected() -> dict[tuple[str, str], str]:
    db = Database("sqlite://")
    db.create_schema(check=False)
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(MASTER).fetchall()
    db.dispose()
    return {(kind, name): _normal(sql) for kind, name, sql in rows}


def foreign_objects(rows: Iterable[Row]) -> list[str]:
    """'trigger evil', … for every row of sqlite_master (MASTER) the monitor would not have
    made."""
    expected = _expected()
    foreign: list[str] = []
    for kind, name, sql in rows:
        if _INTERNAL.match(name) or name == "alembic_version":
            continue
        mine = expected.get((kind, name))
        if mine is None or (kind in ("trigger", "view") and mine != _normal(sql)):
            foreign.append(f"{kind} {name!r}")
    return foreign


def check(rows: Iterable[Row]) -> None:
    """Raise SchemaError if the database holds anything the monitor did not create."""
    foreign = foreign_objects(rows)
    if foreign:
        raise SchemaError(
            "the database holds schema objects the monitor did not create: "
            + ", ".join(foreign[:10])
            + " (a tampered or foreign file; restore a backup made by `monitor backup`)"
        )
