"""Dedup keys: what makes two articles the same story within storage's unique constraints.

Reads: an Article. Writes: nothing; storage enforces the keys. An article is a duplicate when ANY
of these already exists, so no precedence is needed between them:
  1. its canonical URL key (global: the URL names the outlet),
  2. (source, guid): the same feed item seen in another feed of the outlet or another poll,
  3. (source, fingerprint): the same title and opening text republished under a new guid and URL.
Cross-outlet copies are kept apart on purpose: clustering one story across outlets is a later step.
"""

from __future__ import annotations

import hashlib
import re

from monitor.article import Article

_NON_WORD = re.compile(r"\W+")
FINGERPRINT_CHARS = 500  # the opening of the body; later full-text updates must not change it


def _words(text: str) -> str:
    return _NON_WORD.sub(" ", text.lower()).strip()


def fingerprint(article: Article) -> str | None:
    """Digest of title + opening text, insensitive to case, punctuation and spacing."""
    body = article.summary or article.text
    content = _words(article.title) + "\n" + _words(body[:FINGERPRINT_CHARS])
    if not content.strip():
        return None
    return hashlib.blake2b(content.encode("utf-8"), digest_size=16).hexdigest()


def drop_ambiguous_guids(articles: list[Article]) -> None:
    """A guid shared by entries with different links is not an identity (broken feeds do this)."""
    links: dict[str, set[str]] = {}
    for article in articles:
        if article.guid:
            links.setdefault(article.guid, set()).add(article.url)
    for article in articles:
        if article.guid and len(links[article.guid]) > 1:
            article.guid = None
