"""Scrapy spiders, one per outlet; each spider's name equals its source id in feeds.yaml.

SPIDERS maps a source id to its OutletSpider subclass (spiders/base.py): japantimes, ddnews, orf.
Construct through Scrapy with `crawler.crawl(cls, source=..., now=..., skip_url=..., max_pages=...)`
and read `spider.health` / `spider.layout_problem()` after the crawl.
"""

from spiders.base import CrawlHealth, OutletSpider
from spiders.ddnews import DDNewsSpider
from spiders.japantimes import JapanTimesSpider
from spiders.orf import ORFSpider

SPIDERS: dict[str, type[OutletSpider]] = {
    spider.name: spider for spider in (JapanTimesSpider, DDNewsSpider, ORFSpider)
}

__all__ = [
    "SPIDERS",
    "CrawlHealth",
    "DDNewsSpider",
    "JapanTimesSpider",
    "ORFSpider",
    "OutletSpider",
]
