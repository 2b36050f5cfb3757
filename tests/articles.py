"""Article factories for tests that build what a feed or spider would have produced.

Reads/writes: nothing.
"""

from __future__ import annotations

from datetime import datetime

from monitor.article import Article


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
