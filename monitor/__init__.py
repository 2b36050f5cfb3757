"""India–Japan News Monitor: feeds and spiders → relevance → dedup → tags → storage → alerts."""

__version__ = "0.1.0"
