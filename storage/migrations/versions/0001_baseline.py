"""Baseline: the schema as of the first release with migrations.

Revision ID: 0001_baseline
Revises: (none)

A database made by an earlier release (no alembic_version) is brought to it in place: missing
tables are created, columns added since are added to its tables, the full-text index is built.
"""

from __future__ import annotations

from alembic import op

from storage.db import build_baseline

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    build_baseline(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("no downgrade: restore the backup taken before the upgrade")
