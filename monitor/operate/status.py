"""`monitor status`: every configured source's health with the evidence behind it.

Reads: the config, source and feed state, crawl runs, article counts and the source_health
table. Writes: nothing; returns one JSON-shaped row per source.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError

from monitor.config import Config
from monitor.operate.health import assess, collection_state
from storage import articles as store
from storage import crawls, leases
from storage import health as health_store
from storage import sources as state
from storage.db import Database


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as every --json output writes times."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def _holders(db: Database, now: datetime) -> dict[str, str]:
    """job → the daemon ("host:pid") holding it now; empty for a database older than leases."""
    try:
        with db.read() as conn:
            live = leases.live(conn, now)
    except DBAPIError:  # no job_lease table yet: the next daemon start creates it
        return {}
    return {lease.job: ":".join(lease.owner.split(":")[:2]) for lease in live}


def source_rows(db: Database, config: Config, now: datetime) -> list[dict[str, Any]]:
    with db.read() as conn:
        polled = state.source_status(conn)
        latest_crawl = crawls.latest_crawls(conn)
        totals = store.count_by_source(conn)
        recent = store.count_by_source(conn, since=now - timedelta(hours=24))
        judged = assess(conn, config, now)
        reported = health_store.load(conn)
    held = _holders(db, now)
    rows: list[dict[str, Any]] = []
    for source in config.sources:
        st = polled.get(source.id)
        last_crawl = latest_crawl.get(source.id)
        health = judged[source.id]
        told = reported.get(source.id)
        after = health.silent_after
        rows.append(
            {
                "source": source.id,
                "name": source.name,
                "state": health.state,
                "detail": health.detail or None,
                "collected_by": collection_state(source),
                "last_poll": iso(st.last_poll_at) if st else None,
                "last_success": iso(st.last_success_at) if st else None,
                "last_error": st.last_error if st else None,
                "last_error_at": iso(st.last_error_at) if st else None,
                "consecutive_failures": st.consecutive_failures if st else 0,
                "last_crawl": iso(last_crawl.started_at) if last_crawl else None,
                "crawl_problem": last_crawl.problem if last_crawl else None,
                "crawl_problem_kind": last_crawl.problem_kind if last_crawl else None,
                "articles": totals.get(source.id, 0),
                "articles_24h": recent.get(source.id, 0),
                "last_new_article": iso(health.last_new_at),
                "silent_after_hours": (
                    round(after.total_seconds() / 3600, 1) if after is not None else None
                ),
                "stale_after_hours": (
                    round(health.stale_after.total_seconds() / 3600, 1)
                    if health.stale_after is not None
                    else None
                ),
                "operator_told": told.reported_state if told else None,
                "held_by": {kind: held.get(f"{kind}:{source.id}") for kind in ("poll", "crawl")},
                "feeds": [
                    {
                        "url": f.url,
                        "last_status": f.last_status,
                        "consecutive_failures": f.consecutive_failures,
                        "last_error": f.last_error,
                        "last_error_kind": f.last_error_kind,
                        "entries": f.last_entries,
                        "newest_item": iso(f.newest_item_at),
                        "next_fetch_at": iso(f.next_fetch_at),
                        "moved_to": f.moved_to,
                        "suspended": f.suspended_reason,
                    }
                    for f in (st.feeds if st else [])
                    if f.url in source.feed_urls
                ],
            }
        )
    for row in rows:
        notes = [
            f"feed {f['url']} suspended ({f['suspended']}): `monitor feeds resume`"
            for f in row["feeds"]
            if f["suspended"]
        ] + [
            f"feed {f['url']} moved permanently to {f['moved_to']}: update feeds.yaml"
            for f in row["feeds"]
            if f["moved_to"]
        ]
        if notes:
            row["detail"] = "; ".join([row["detail"], *notes] if row["detail"] else notes)
    return rows
