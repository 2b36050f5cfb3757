"""Crawl runs: one row per spider run, and the latest state of each source's spider.

Reads/writes: the crawl_run table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select

from storage.models import crawl_run_table


def record_crawl(conn: Connection, **values: Any) -> None:
    conn.execute(crawl_run_table.insert().values(**values))


def latest_crawls(conn: Connection) -> dict[str, dict[str, Any]]:
    """The newest crawl_run row of every source."""
    t = crawl_run_table
    newest = select(t.c.source_id, func.max(t.c.id).label("id")).group_by(t.c.source_id).subquery()
    rows = conn.execute(select(t).join(newest, t.c.id == newest.c.id)).mappings()
    return {row["source_id"]: dict(row) for row in rows}


def prune_crawl_runs(conn: Connection, before: datetime) -> int:
    t = crawl_run_table
    return int(conn.execute(delete(t).where(t.c.started_at < before)).rowcount)


def has_crawled(conn: Connection, source_id: str) -> bool:
    """Whether a crawl of this source ever fetched pages: its first one is an alert baseline."""
    t = crawl_run_table
    query = select(t.c.id).where(t.c.source_id == source_id, t.c.responses > 0).limit(1)
    return conn.execute(query).first() is not None


def recent_listing_crawls(conn: Connection, source_id: str, limit: int) -> list[dict[str, Any]]:
    """The newest crawls of a source's listing pages, newest first. Enrichment fetches (article
    pages only: no listing page and never a problem) say nothing about the layout; left out."""
    t = crawl_run_table
    listing = (t.c.listing_pages > 0) | t.c.problem.is_not(None)
    query = (
        select(t).where(t.c.source_id == source_id, listing).order_by(t.c.id.desc()).limit(limit)
    )
    return [dict(row) for row in conn.execute(query).mappings()]
