"""The Scrapy item pipeline of every crawl: each Article goes down the flow as its page is parsed.

Reads: the Articles a spider yields. Writes: through the sink the runner gave the crawler
(flow.ingest in a thread), so a crash mid-crawl loses at most the page in flight.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from monitor.article import Article

SINK = "MONITOR_ARTICLE_SINK"  # crawler setting holding the per-crawl sink

Sink = Callable[[Article], Awaitable[None]]


class IngestPipeline:
    def __init__(self, sink: Sink | None) -> None:
        self.sink = sink

    @classmethod
    def from_crawler(cls, crawler: Any) -> IngestPipeline:
        return cls(crawler.settings.get(SINK))

    async def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, Article) and self.sink is not None:
            await self.sink(item)
        return item
