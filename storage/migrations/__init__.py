"""The schema's revisions (Alembic): what each database is at, and the path to the newest.

Reads/writes: nothing here; env.py runs the revisions in versions/ on a connection it is given.
REVISIONS lists them oldest first, so start-up can tell "older", "current" and "newer than this
monitor" from one row without importing Alembic.
"""

from __future__ import annotations

REVISIONS = ("0001_baseline", "0002_story_and_alert_indexes", "0003_stories")
HEAD = REVISIONS[-1]
