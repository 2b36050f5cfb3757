"""SQLModel tables: sources, feeds and fetch state, articles, sector tags, seen keys, fetch log.

Reads/writes: nothing by itself; storage.db creates these tables. All timestamps are UTC.
The SQL is kept portable (SQLite now, PostgreSQL through the same URL later); the only
SQLite-specific part, the FTS5 index, is created in storage.db.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Table,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite would otherwise drop offsets without converting."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the monitor stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Meta(SQLModel, table=True):
    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str


class Source(SQLModel, table=True):
    """One outlet from feeds.yaml and the summary of its latest polls."""

    __tablename__ = "source"
    id: str = Field(primary_key=True)
    name: str
    last_poll_at: datetime | None = _ts()
    last_success_at: datetime | None = _ts()
    last_error: str | None = None
    last_error_at: datetime | None = _ts()
    consecutive_failures: int = 0
    baseline_done_at: datetime | None = _ts()  # first collection finished: alerts may flow
    added_at: datetime | None = _ts()  # first configured: news published after it is news


class Feed(SQLModel, table=True):
    """One feed URL of a source: conditional-GET validators and failure/backoff state."""

    __tablename__ = "feed"
    id: int | None = Field(default=None, primary_key=True)
    source_id: str = Field(sa_column=Column(ForeignKey("source.id"), nullable=False, index=True))
    url: str = Field(unique=True)
    etag: str | None = None
    last_modified: str | None = None
    last_status: str | None = None  # ok | not_modified | error
    last_http_status: int | None = None
    last_error: str | None = None
    last_error_kind: str | None = None
    last_fetch_at: datetime | None = _ts()
    last_success_at: datetime | None = _ts()
    consecutive_failures: int = 0
    next_fetch_at: datetime | None = _ts()
    moved_to: str | None = None  # where a permanent redirect (301/308) now leads
    suspended_at: datetime | None = _ts()  # not fetched (HTTP 410, or too many failures)...
    suspended_reason: str | None = None  # ... until `monitor feeds resume`
    # What the last body that parsed held: a feed answering 200 whose newest item is old is stale.
    last_entries: int | None = None
    newest_item_at: datetime | None = _ts()
    # What each entry of the last body that parsed was (monitor/collect/entries.py records):
    # those entries are recognised in the next body instead of being parsed again.
    entry_records: bytes | None = Field(default=None, sa_column=Column(LargeBinary))


class ArticleRow(SQLModel, table=True):
    """A stored India–Japan article. Unique keys are the dedup rules (see monitor/dedup.py)."""

    __tablename__ = "article"
    __table_args__ = (
        UniqueConstraint("source_id", "guid", name="uq_article_source_guid"),
        UniqueConstraint("source_id", "fingerprint", name="uq_article_source_fingerprint"),
        Index("ix_article_source_published", "source_id", "published_at"),
        Index("ix_article_fingerprint", "fingerprint"),  # a story's outlets (storage/stories.py)
    )
    id: int | None = Field(default=None, primary_key=True)
    source_id: str = Field(sa_column=Column(ForeignKey("source.id"), nullable=False))
    url: str
    url_hash: str = Field(unique=True, max_length=64)
    original_url: str
    guid: str | None = None
    fingerprint: str | None = Field(default=None, max_length=32)
    title: str
    summary: str = ""
    text: str = ""
    author: str | None = None
    published_at: datetime = _ts(nullable=False, index=True)
    published_from_source: bool = True
    first_seen_at: datetime = _ts(nullable=False)
    updated_at: datetime | None = _ts()
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    language: str | None = None
    relevance: float = 0.0
    relevance_reason: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    ingest_mode: str = "live"  # live | backfill


class ArticleTagRow(SQLModel, table=True):
    """One sector of an article and the terms that matched it."""

    __tablename__ = "article_tag"
    article_id: int = Field(
        sa_column=Column(Integer, ForeignKey("article.id", ondelete="CASCADE"), primary_key=True)
    )
    sector: str = Field(primary_key=True, index=True)
    terms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class SeenItem(SQLModel, table=True):
    """Keys of entries not stored as articles, so they are not re-evaluated every poll.

    verdict 'irrelevant' is only trusted while rules_hash matches the current relevance rules;
    'duplicate' (same story under another key) holds whatever the rules.
    """

    __tablename__ = "seen_item"
    source_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True, max_length=64)
    verdict: str
    rules_hash: str | None = None
    full_text: bool = False  # judged on the article's full text, not only a feed description
    first_seen_at: datetime = _ts(nullable=False)
    last_seen_at: datetime = _ts(nullable=False, index=True)


class FetchLog(SQLModel, table=True):
    """One line per feed fetch: what happened and what it produced."""

    __tablename__ = "fetch_log"
    id: int | None = Field(default=None, primary_key=True)
    source_id: str = Field(index=True)
    feed_url: str
    started_at: datetime = _ts(nullable=False, index=True)
    duration_ms: int = 0
    outcome: str  # ok | not_modified | error | backoff
    http_status: int | None = None
    entries: int = 0
    new: int = 0
    duplicate: int = 0
    irrelevant: int = 0
    error_kind: str | None = None
    error: str | None = None


class CrawlRun(SQLModel, table=True):
    """One spider run: what it walked and extracted, and any layout problem it detected."""

    __tablename__ = "crawl_run"
    id: int | None = Field(default=None, primary_key=True)
    source_id: str = Field(index=True)
    started_at: datetime = _ts(nullable=False, index=True)
    duration_ms: int = 0
    listing_pages: int = 0
    article_links: int = 0
    articles: int = 0
    new: int = 0
    updated: int = 0
    responses: int = 0
    errors: int = 0
    finish_reason: str | None = None
    problem: str | None = None
    # layout | failing | unreachable | blocked; NULL with a problem: a row from before it existed
    # (a layout problem then)
    problem_kind: str | None = None


class BackfillRoute(SQLModel, table=True):
    """Checkpoint of one history route of `monitor backfill`, saved after each listing page.

    state: walking (interrupted or paused; resume at next_url) | done (reached `since`) |
    end (the archive has no older page).
    """

    __tablename__ = "backfill_route"
    source_id: str = Field(primary_key=True)
    route: str = Field(primary_key=True)  # the path as configured in feeds.yaml
    state: str
    since: datetime = _ts(nullable=False)  # the oldest date this walk was asked to reach
    next_url: str | None = None
    next_page_no: int = 1
    pages: int = 0  # listing pages finished, over all runs
    articles: int = 0  # article pages read
    new: int = 0  # articles stored
    oldest_at: datetime | None = _ts()  # oldest publication date seen on a finished page
    newest_at: datetime | None = _ts()
    started_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class Delivery(SQLModel, table=True):
    """The alert outbox: one row per article × subscriber × destination, written with the article.

    state: pending → sending (claimed) → sent | failed; suppressed rows are recorded, never sent
    (baseline, too old, backfill, same story already alerted).
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("subscriber", "destination", "article_id", name="uq_delivery"),
        Index("ix_delivery_due", "state", "due_at"),
        Index("ix_delivery_article", "article_id"),  # the alerts of one article (web view)
    )
    id: int | None = Field(default=None, primary_key=True)
    subscriber: str
    destination: str = Field(max_length=16)  # digest of the URL template: no secrets stored
    channel: str  # email | telegram | …
    article_id: int = Field(
        sa_column=Column(Integer, ForeignKey("article.id", ondelete="CASCADE"), nullable=False)
    )
    mode: str  # immediate | digest
    state: str = Field(index=True)
    story: str | None = Field(default=None, index=True)  # cross-outlet story key
    rules: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    why: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason: str | None = None  # why a row was suppressed
    created_at: datetime = _ts(nullable=False)
    due_at: datetime = _ts(nullable=False)
    attempts: int = 0
    next_attempt_at: datetime | None = _ts()
    claimed_at: datetime | None = _ts()
    claimed_by: str | None = None  # the process holding the claim: "host:pid:token"
    lease_until: datetime | None = _ts(index=True)  # the claim lapses then; any process takes it
    unknown: int = 0  # sends whose outcome is unknown (timeout after sending, lapsed claim)
    sent_at: datetime | None = _ts()
    last_error: str | None = None
    message_id: str | None = None


class StoryRow(SQLModel, table=True):
    """One event as reported across outlets: the articles that joined it (story_article).

    thread_id: the story this one develops (a new event of the same thread), else its own id.
    """

    __tablename__ = "story"
    id: int | None = Field(default=None, primary_key=True)
    headline: str  # the first article's title
    sector: str | None = None  # the first article's primary sector
    size: int = 1
    thread_id: int | None = Field(default=None, index=True)
    first_published_at: datetime = _ts(nullable=False, index=True)  # its window starts here
    last_published_at: datetime = _ts(nullable=False)
    first_seen_at: datetime = _ts(nullable=False)
    last_seen_at: datetime = _ts(nullable=False, index=True)


class StoryArticleRow(SQLModel, table=True):
    """Which story an article belongs to, decided when it was stored, and why."""

    __tablename__ = "story_article"
    article_id: int = Field(
        sa_column=Column(Integer, ForeignKey("article.id", ondelete="CASCADE"), primary_key=True)
    )
    story_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("story.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    joined: bool = False  # False: it started the story
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # What it was compared by (monitor/judge/stories.py Features): later articles meet it here.
    features: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class OperatorNotice(SQLModel, table=True):
    """Open incidents the operator was told about (a destination failing for good, alerts that
    cannot be sent): one row while the incident lasts, removed when it ends."""

    __tablename__ = "operator_notice"
    key: str = Field(primary_key=True)
    sent_at: datetime = _ts(nullable=False)


class JobLease(SQLModel, table=True):
    """Which daemon runs a job ("poll:orf", "crawl:orf") until when, and each live daemon's own
    row ("daemon:<owner>"): several daemons on one database share the sources this way."""

    __tablename__ = "job_lease"
    job: str = Field(primary_key=True)
    owner: str = Field(nullable=False)
    until: datetime = _ts(nullable=False)
    taken_at: datetime = _ts(nullable=False)
    seconds: float = Field(default=60.0, nullable=False)  # how long a renewal extends it


class SourceHealthRow(SQLModel, table=True):
    """A source's health as the daemon last judged it, and what the operator was told about it.

    The operator is owed a notice while state differs from reported_state (a row first seen
    as ok owes nothing); a failed send is retried from retry_at.
    """

    __tablename__ = "source_health"
    source_id: str = Field(primary_key=True)
    state: str  # ok | failing | extraction broken | silent
    since: datetime = _ts(nullable=False)  # when the source entered this state
    detail: str = ""  # why, as written into the notice
    reported_state: str | None = None  # the state of the last notice the operator got
    reported_at: datetime | None = _ts()
    attempts: int = 0  # failed sends of the notice owed for `state`
    last_error: str | None = None
    retry_at: datetime | None = _ts()


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined,no-any-return]


# Core Table handles: bulk inserts and queries go through SQLAlchemy Core (2–3x faster than ORM).
meta_table = _table(Meta)
source_table = _table(Source)
feed_table = _table(Feed)
article_table = _table(ArticleRow)
article_tag_table = _table(ArticleTagRow)
seen_table = _table(SeenItem)
fetch_log_table = _table(FetchLog)
crawl_run_table = _table(CrawlRun)
delivery_table = _table(Delivery)
operator_notice_table = _table(OperatorNotice)
backfill_route_table = _table(BackfillRoute)
source_health_table = _table(SourceHealthRow)
story_table = _table(StoryRow)
story_article_table = _table(StoryArticleRow)
job_lease_table = _table(JobLease)
