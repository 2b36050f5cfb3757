"""Alembic's entry point: runs the revisions on the connection `monitor db upgrade` passes in.

Reads: config.attributes["connection"]. Writes: the schema, inside the caller's transaction.
Importing it outside an Alembic run (an import check of every module) does nothing.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel


def _run() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
        transactional_ddl=True,  # every revision of one upgrade commits together, or none does
    )
    with context.begin_transaction():
        context.run_migrations()


try:
    context.config  # noqa: B018  # missing unless Alembic is running this file
except (NameError, AttributeError):
    pass
else:
    _run()
