"""What each stage reports back: a batch's outcome, a feed's and a source's poll, a crawl.

Reads/writes: nothing; the daemon's telemetry, the logs and the CLI's tables and JSON read these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.article import Article, FeedOutcome

if TYPE_CHECKING:
    from monitor.collect.errors import FetchErrorKind


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@dataclass
class Outcome:
    """What happened to each entry of a batch that went through ingest()."""

    entries: int = 0
    new: list[tuple[int, Article]] = field(default_factory=list)  # (row id, article), stored
    duplicate: int = 0
    irrelevant: int = 0
    updated: int = 0  # stored articles that received a fuller text (also counted as duplicate)
    irrelevant_keys: set[str] = field(default_factory=set, repr=False)  # counted as irrelevant
    # entries not relevant on their short feed text whose page is to be read before the verdict
    # (counted as irrelevant until then)
    to_enrich: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.entries += other.entries
        self.new += other.new
        self.duplicate += other.duplicate
        self.irrelevant += other.irrelevant
        self.updated += other.updated
        self.irrelevant_keys |= other.irrelevant_keys
        self.to_enrich += other.to_enrich


@dataclass
class FeedReport:
    url: str
    outcome: FeedOutcome
    entries: int = 0
    new: int = 0
    duplicate: int = 0
    irrelevant: int = 0
    http_status: int | None = None
    error: str | None = None
    error_kind: FetchErrorKind | str | None = None  # a fetch error kind, or "parse"
    warning: str | None = None
    newest_at: datetime | None = None  # the feed's newest dated item (staleness)
    recognised: int = 0  # entries the last body also held: not parsed again
    new_articles: list[tuple[int, Article]] = field(default_factory=list, repr=False)
    entry_records: bytes | None = field(default=None, repr=False)  # kept for the next body
    enrich: list[str] = field(default_factory=list, repr=False)  # Outcome.to_enrich

    def to_json(self) -> dict[str, Any]:
        hidden = ("new_articles", "entry_records", "enrich")
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in hidden}
        data["newest_at"] = _iso(self.newest_at)
        return data


@dataclass
class SourceReport:
    source: str
    feeds: list[FeedReport] = field(default_factory=list)
    enriched: int = 0  # new articles whose page gave a fuller text
    found_on_page: int = 0  # entries not relevant on their feed text, relevant on their page

    def total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.feeds)

    def count(self, outcome: FeedOutcome) -> int:
        return sum(1 for f in self.feeds if f.outcome == outcome)

    @property
    def error(self) -> str | None:
        errors = [f"{f.url}: {f.error}" for f in self.feeds if f.outcome == "error"]
        return "; ".join(errors) if errors else None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "fetched": self.count("ok"),
            "not_modified": self.count("not_modified"),
            "backing_off": self.count("backoff"),
            "entries": self.total("entries"),
            "new": self.total("new"),
            "duplicate": self.total("duplicate"),
            "irrelevant": self.total("irrelevant"),
            "errors": self.count("error"),
            "enriched": self.enriched,
            "found_on_page": self.found_on_page,
            "error": self.error,
            "feeds": [feed.to_json() for feed in self.feeds],
        }


@dataclass
class CrawlReport:
    source: str
    started_at: datetime
    seconds: float = 0.0
    listing_pages: int = 0
    article_links: int = 0
    articles: int = 0
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    irrelevant: int = 0
    responses: int = 0
    errors: int = 0
    finish_reason: str | None = None
    problem: str | None = None
    # layout (extraction broken), failing, unreachable or blocked (collect/crawl/failures.py)
    problem_kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat().replace("+00:00", "Z")
        return data
