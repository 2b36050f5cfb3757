"""Source and feed state: conditional-GET validators, failures and backoff, the fetch log, status.

Reads/writes: the source, feed and fetch_log tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, update

from storage.db import insert_for as _insert
from storage.models import feed_table, fetch_log_table, source_table


@dataclass(frozen=True)
class FeedState:
    url: str
    etag: str | None
    last_modified: str | None
    consecutive_failures: int
    next_fetch_at: datetime | None
    moved_to: str | None = None
    suspended_reason: str | None = None
    entry_records: bytes | None = None


def sync_sources(
    conn: Connection, sources: Iterable[tuple[str, str, list[str]]], now: datetime | None = None
) -> None:
    """Make sure every configured source and feed has a row; existing state is kept."""
    for source_id, name, feed_urls in sources:
        stmt = _insert(conn, source_table).values(id=source_id, name=name, added_at=now)
        conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={"name": name}))
        for url in feed_urls:
            conn.execute(
                _insert(conn, feed_table)
                .values(source_id=source_id, url=url)
                .on_conflict_do_nothing()
            )


def feed_state(conn: Connection, url: str) -> FeedState:
    return feed_states(conn, [url])[url]


def feed_states(conn: Connection, urls: Sequence[str]) -> dict[str, FeedState]:
    """The fetch state of these feeds, in one query (a feed never fetched: empty state)."""
    table = feed_table
    rows = conn.execute(select(table).where(table.c.url.in_(list(urls)))).mappings()
    found = {row["url"]: _feed_state(row) for row in rows}
    return {url: found.get(url) or FeedState(url, None, None, 0, None) for url in urls}


def _feed_state(row: Any) -> FeedState:
    url = row["url"]
    return FeedState(
        url, row["etag"], row["last_modified"], row["consecutive_failures"],
        row["next_fetch_at"], row["moved_to"],
        row["suspended_reason"] if row["suspended_at"] is not None else None,
        row["entry_records"],
    )  # fmt: skip


def record_moved(conn: Connection, url: str, moved_to: str | None) -> bool:
    """Remember where a permanent redirect leads; True when that is news."""
    table = feed_table
    old = conn.execute(select(table.c.moved_to).where(table.c.url == url)).scalar()
    if old == moved_to:
        return False
    conn.execute(update(table).where(table.c.url == url).values(moved_to=moved_to))
    return moved_to is not None


def suspend_feed(conn: Connection, url: str, now: datetime, reason: str) -> None:
    table = feed_table
    conn.execute(
        update(table).where(table.c.url == url).values(suspended_at=now, suspended_reason=reason)
    )


def resume_feeds(conn: Connection, urls: Iterable[str]) -> list[str]:
    """Fetch these feeds again; returns the ones that were suspended."""
    table = feed_table
    wanted = list(urls)
    held = [
        u
        for (u,) in conn.execute(
            select(table.c.url).where(table.c.url.in_(wanted), table.c.suspended_at.is_not(None))
        )
    ]
    conn.execute(
        update(table)
        .where(table.c.url.in_(held))
        .values(suspended_at=None, suspended_reason=None, consecutive_failures=0,
                next_fetch_at=None)
    )  # fmt: skip
    return held


def record_feed_success(
    conn: Connection,
    url: str,
    *,
    now: datetime,
    http_status: int,
    not_modified: bool,
    etag: str | None,
    last_modified: str | None,
    entries: int | None = None,
    newest_item_at: datetime | None = None,
    entry_records: bytes | None = None,
) -> None:
    """A fetch that gave a feed (or a 304). `entries` / `newest_item_at`: what a parsed body
    held (a 304 keeps the previous values: the feed did not change)."""
    table = feed_table
    values: dict[str, Any] = {
        "last_status": "not_modified" if not_modified else "ok",
        "last_http_status": http_status,
        "last_fetch_at": now,
        "last_success_at": now,
        "consecutive_failures": 0,
        "next_fetch_at": None,
    }
    # Validators are stored even when the body was unchanged: stale ones cause needless refetches.
    if etag is not None or not not_modified:
        values["etag"] = etag
    if last_modified is not None or not not_modified:
        values["last_modified"] = last_modified
    if not not_modified:
        values["last_entries"] = entries
        values["newest_item_at"] = newest_item_at
        values["entry_records"] = entry_records
    conn.execute(update(table).where(table.c.url == url).values(**values))


def forget_entry_records(conn: Connection) -> None:
    """Every feed's next body is read whole: no entry is recognised from before."""
    conn.execute(update(feed_table).values(entry_records=None))


def record_feed_failure(
    conn: Connection,
    url: str,
    *,
    now: datetime,
    next_fetch_at: datetime,
    kind: str,
    error: str,
    http_status: int | None,
) -> None:
    table = feed_table
    conn.execute(
        update(table)
        .where(table.c.url == url)
        .values(
            last_status="error",
            last_http_status=http_status,
            last_error=error,
            last_error_kind=kind,
            last_fetch_at=now,
            consecutive_failures=table.c.consecutive_failures + 1,
            next_fetch_at=next_fetch_at,
        )
    )


def record_source_poll(
    conn: Connection, source_id: str, *, now: datetime, error: str | None
) -> None:
    """A poll succeeds when no feed failed; failures count consecutive polls with an error."""
    table = source_table
    if error is None:
        values: dict[str, Any] = {
            "last_poll_at": now,
            "last_success_at": now,
            "consecutive_failures": 0,
        }
    else:
        values = {
            "last_poll_at": now,
            "last_error": error,
            "last_error_at": now,
            "consecutive_failures": table.c.consecutive_failures + 1,
        }
    conn.execute(update(table).where(table.c.id == source_id).values(**values))


def prune_fetch_log(conn: Connection, before: datetime) -> int:
    table = fetch_log_table
    return int(conn.execute(delete(table).where(table.c.started_at < before)).rowcount)


def log_fetch(conn: Connection, **values: Any) -> None:
    log_fetches(conn, [values])


def log_fetches(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Fetch-log lines, one executemany (compiled once)."""
    if rows:
        conn.execute(fetch_log_table.insert(), list(rows))


@dataclass(frozen=True)
class Unchanged:
    """A feed that answered 304 Not Modified."""

    url: str
    at: datetime
    http_status: int
    etag: str | None
    last_modified: str | None


def record_not_modified(conn: Connection, feeds: Sequence[Unchanged]) -> None:
    """What record_feed_success() writes for a 304, for many feeds in one statement: a round
    of unchanged feeds costs one write, not one per feed."""
    if not feeds:
        return
    t = feed_table
    stmt = (
        update(t)
        .where(t.c.url == bindparam("b_url"))
        .values(
            last_status="not_modified", last_http_status=bindparam("b_status"),
            last_fetch_at=bindparam("b_now", type_=t.c.last_fetch_at.type),
            last_success_at=bindparam("b_now", type_=t.c.last_success_at.type),
            consecutive_failures=0, next_fetch_at=None,
            etag=func.coalesce(bindparam("b_etag"), t.c.etag),  # a 304 may omit validators
            last_modified=func.coalesce(bindparam("b_modified"), t.c.last_modified),
        )
    )  # fmt: skip
    conn.execute(
        stmt,
        [
            {"b_url": f.url, "b_status": f.http_status, "b_now": f.at, "b_etag": f.etag,
             "b_modified": f.last_modified}
            for f in feeds
        ],
    )  # fmt: skip


@dataclass
class FeedStatus:
    url: str
    last_status: str | None
    last_error: str | None
    consecutive_failures: int
    last_success_at: datetime | None
    next_fetch_at: datetime | None
    moved_to: str | None = None
    suspended_reason: str | None = None
    last_error_kind: str | None = None
    last_entries: int | None = None  # entries of the last body that parsed
    newest_item_at: datetime | None = None  # its newest dated item


@dataclass
class SourceStatus:
    id: str
    name: str
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    feeds: list[FeedStatus] = field(default_factory=list)


def source_status(conn: Connection) -> dict[str, SourceStatus]:
    sources = {
        r["id"]: SourceStatus(
            id=r["id"],
            name=r["name"],
            last_poll_at=r["last_poll_at"],
            last_success_at=r["last_success_at"],
            last_error=r["last_error"],
            last_error_at=r["last_error_at"],
            consecutive_failures=r["consecutive_failures"],
        )
        for r in conn.execute(select(source_table)).mappings()
    }
    feeds = feed_table
    for r in conn.execute(select(feeds).order_by(feeds.c.id)).mappings():
        if r["source_id"] in sources:
            sources[r["source_id"]].feeds.append(
                FeedStatus(
                    url=r["url"],
                    last_status=r["last_status"],
                    last_error=r["last_error"],
                    consecutive_failures=r["consecutive_failures"],
                    last_success_at=r["last_success_at"],
                    next_fetch_at=r["next_fetch_at"],
                    moved_to=r["moved_to"],
                    suspended_reason=r["suspended_reason"] if r["suspended_at"] else None,
                    last_error_kind=r["last_error_kind"],
                    last_entries=r["last_entries"],
                    newest_item_at=r["newest_item_at"],
                )
            )
    return sources


def baseline_since(conn: Connection, source_id: str, now: datetime) -> datetime | None:
    """Until a source's first successful collection: the instant before which what it holds is
    old news (the source's adding; `now` for a row older than that column). Afterwards None.

    A first collection that failed does not count: what appears after the source was added is
    news, whenever the first collection finally succeeds."""
    t = source_table
    row = conn.execute(
        select(t.c.baseline_done_at, t.c.added_at).where(t.c.id == source_id)
    ).first()
    if row is not None and row.baseline_done_at is not None:
        return None
    added = row.added_at if row is not None else None
    return added if added is not None else now


def finish_baseline(conn: Connection, source_id: str, now: datetime) -> None:
    t = source_table
    conn.execute(
        update(t)
        .where(t.c.id == source_id, t.c.baseline_done_at.is_(None))
        .values(baseline_done_at=now)
    )


def added_at(conn: Connection, source_id: str, now: datetime) -> datetime:
    """When the source was first configured (`now` for rows older than that column)."""
    t = source_table
    added = conn.execute(select(t.c.added_at).where(t.c.id == source_id)).scalar()
    return added if added is not None else now
