"""Crawls: Scrapy spiders run in this process on the shared loop (runner.py), with polite and
guarded settings (settings.py, middleware.py); each parsed page goes down the flow (items.py)."""
