"""Scrapy spiders, one per outlet; each spider's name equals its source id in feeds.yaml.

No spider is implemented yet: sources that declare only `crawl:` listing pages (ORF) are reported
as "not collected" by `monitor status` until their spider lands here.
"""

SPIDERS: dict[str, type] = {}
