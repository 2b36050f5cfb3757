"""Article factories for tests that build what a feed or spider would have produced.

Reads/writes: nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.article import Article
from tests.fixture_dates import GOLDEN


def article(n: int, published: datetime, source: str = "dd") -> Article:
    url = f"https://{source}.example/india-japan-{n}/"
    return Article(
        source_id=source,
        url=url,
        original_url=url,
        guid=url,
        title=f"India-Japan Shinkansen talks, round {n}",
        summary="",
        text="",
        author=None,
        published_at=published,
        first_seen_at=published,
    )


def entry(
    title: str, summary: str = "", text: str = "", *, source: str = "japantimes", **fields: Any
) -> Article:
    """An entry with these words, for judging and rule matching (which never read its dates)."""
    return Article(
        source_id=source,
        url="https://example.org/a",
        original_url="https://example.org/a",
        guid=None,
        title=title,
        summary=summary,
        text=text,
        author=None,
        published_at=GOLDEN.now,
        first_seen_at=GOLDEN.now,
        **fields,
    )
