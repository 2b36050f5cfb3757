"""Scrapy spiders, one per outlet; each spider's name equals its source id in feeds.yaml.

SPIDERS maps a source id to its OutletSpider subclass (spiders/base.py): japantimes, ddnews, orf.
Construct through Scrapy: `crawler.crawl(cls, source=..., now=..., skip_urls=..., max_pages=...)`,
then read `spider.health` / `spider.layout_problem()` after the crawl. SPIDER_NAMES answers "has
this source a spider?" without importing Scrapy, so commands that never crawl start faster.
"""

from __future__ import annotations

import pkgutil
from typing import TYPE_CHECKING, Any

_FRAMEWORK = frozenset({"base", "history"})  # modules every spider shares, not outlets


def spider_modules() -> frozenset[str]:
    """Source ids with a spider: the outlet modules of this package, found without importing."""
    return frozenset(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _FRAMEWORK)


SPIDER_NAMES = spider_modules()

if TYPE_CHECKING:
    from spiders.base import CrawlHealth, OutletSpider
    from spiders.ddnews import DDNewsSpider
    from spiders.japantimes import JapanTimesSpider
    from spiders.orf import ORFSpider

    SPIDERS: dict[str, type[OutletSpider]]


def __getattr__(name: str) -> Any:
    # Loaded on first use: importing Scrapy costs about half a second.
    from spiders.base import CrawlHealth, OutletSpider
    from spiders.ddnews import DDNewsSpider
    from spiders.japantimes import JapanTimesSpider
    from spiders.orf import ORFSpider

    classes: dict[str, Any] = {
        "CrawlHealth": CrawlHealth,
        "OutletSpider": OutletSpider,
        "DDNewsSpider": DDNewsSpider,
        "JapanTimesSpider": JapanTimesSpider,
        "ORFSpider": ORFSpider,
        "SPIDERS": {s.name: s for s in (JapanTimesSpider, DDNewsSpider, ORFSpider)},
    }
    if set(classes["SPIDERS"]) != SPIDER_NAMES:
        raise RuntimeError("spiders.SPIDER_NAMES is out of date with the spider classes")
    if name not in classes:
        raise AttributeError(name)
    globals().update(classes)
    return classes[name]


__all__ = [
    "SPIDERS",
    "SPIDER_NAMES",
    "CrawlHealth",
    "DDNewsSpider",
    "JapanTimesSpider",
    "ORFSpider",
    "OutletSpider",
]
