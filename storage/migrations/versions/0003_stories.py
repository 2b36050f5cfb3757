"""Stories: the story table and each article's membership (story_article), with their indexes.

Revision ID: 0003_stories
Revises: 0002_story_and_alert_indexes

Only creates what is missing: a database brought from before migrations got them already from
the baseline, which builds the current tables.
"""

from __future__ import annotations

from alembic import op
from sqlmodel import SQLModel

from storage.models import story_article_table, story_table

revision = "0003_stories"
down_revision = "0002_story_and_alert_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    SQLModel.metadata.create_all(op.get_bind(), tables=[story_table, story_article_table])


def downgrade() -> None:
    raise NotImplementedError("no downgrade: restore the backup taken before the upgrade")
