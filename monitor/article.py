"""The one item type that flows through the pipeline, whether it came from a feed or a spider,
and the named states and modes every stage shares (Literal types mypy checks).

Reads/writes: nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

IngestMode = Literal["live", "backfill"]  # backfilled articles never alert immediately
FeedOutcome = Literal["ok", "not_modified", "error", "backoff", "suspended"]
DeliveryState = Literal["pending", "sending", "sent", "failed", "suppressed"]
DeliveryMode = Literal[
    "immediate", "digest", "backfill", "followup"
]  # followup: "also reported by"
JobKind = Literal["poll", "crawl"]


@dataclass(slots=True)
class Article:
    source_id: str
    url: str  # canonical: the dedup key
    original_url: str
    guid: str | None
    title: str
    summary: str
    text: str
    author: str | None
    published_at: datetime  # aware, UTC
    first_seen_at: datetime  # aware, UTC
    categories: list[str] = field(default_factory=list)
    language: str | None = None
    published_from_source: bool = True  # False when published_at fell back to first_seen_at
    # Filled in by the later steps.
    fingerprint: str = ""
    relevance: float = 0.0
    relevance_reason: dict[str, Any] = field(default_factory=dict)
    sectors: dict[str, list[str]] = field(default_factory=dict)
    story: int | None = None  # the story it joined or started, once stored
