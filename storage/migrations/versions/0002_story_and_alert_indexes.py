"""Indexes for the web view: an article's story (its fingerprint across outlets) and the alerts
of one article, so neither reads a whole table.

Revision ID: 0002_story_and_alert_indexes
Revises: 0001_baseline
"""

from __future__ import annotations

from alembic import op

revision = "0002_story_and_alert_indexes"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: a database built whole at this revision already has them (models.py).
    op.execute("CREATE INDEX IF NOT EXISTS ix_article_fingerprint ON article (fingerprint)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_delivery_article ON delivery (article_id)")


def downgrade() -> None:
    raise NotImplementedError("no downgrade: restore the backup taken before the upgrade")
