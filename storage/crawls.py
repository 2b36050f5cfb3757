"""Crawl runs: one row per spider run, and the latest state of each source's spider.

Reads/writes: the crawl_run table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select

from storage.models import crawl_run_table


@dataclass(frozen=True)
class CrawlRun:
    """One stored spider run."""

    id: int
    source_id: str
    started_at: datetime
    duration_ms: int
    listing_pages: int
    article_links: int
    articles: int
    new: int
    updated: int
    responses: int
    errors: int
    finish_reason: str | None
    problem: str | None
    problem_kind: str | None

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> CrawlRun:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


def record_crawl(conn: Connection, **values: Any) -> None:
    conn.execute(crawl_run_table.insert().values(**values))


def latest_crawls(conn: Connection) -> dict[str, CrawlRun]:
    """The newest crawl_run row of every source."""
    t = crawl_run_table
    newest = select(t.c.source_id, func.max(t.c.id).label("id")).group_by(t.c.source_id).subquery()
    rows = conn.execute(select(t).join(newest, t.c.id == newest.c.id)).mappings()
    return {row["source_id"]: CrawlRun.of(row) for row in rows}


def prune_crawl_runs(conn: Connection, before: datetime) -> int:
    t = crawl_run_table
    return int(conn.execute(delete(t).where(t.c.started_at < before)).rowcount)


def has_crawled(conn: Connection, source_id: str) -> bool:
    """Whether a crawl of this source ever read a listing page: its first one is an alert
    baseline. robots.txt alone, or listings answering errors, do not count."""
    t = crawl_run_table
    query = select(t.c.id).where(t.c.source_id == source_id, t.c.listing_pages > 0).limit(1)
    return conn.execute(query).first() is not None


def recent_listing_crawls(conn: Connection, source_id: str, limit: int) -> list[CrawlRun]:
    """The newest crawls of a source's listing pages, newest first. Enrichment fetches (article
    pages only: no listing page and never a problem) say nothing about the layout; left out."""
    t = crawl_run_table
    listing = (t.c.listing_pages > 0) | t.c.problem.is_not(None)
    query = (
        select(t).where(t.c.source_id == source_id, listing).order_by(t.c.id.desc()).limit(limit)
    )
    return [CrawlRun.of(row) for row in conn.execute(query).mappings()]
