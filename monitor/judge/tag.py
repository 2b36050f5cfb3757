"""Sector tags: which sectors an article touches, and the terms that put it there (the "why").

Reads: the term hits of one article. Writes: nothing.
"""

from __future__ import annotations

from monitor.judge.terms import Hit

SECTOR_PREFIX = "sector:"


def sector_group(sector: str) -> str:
    return SECTOR_PREFIX + sector


def tag(hits: list[Hit]) -> dict[str, list[str]]:
    """Sector name → sorted matched terms, for every sector with at least one hit."""
    sectors: dict[str, set[str]] = {}
    for hit in hits:
        if hit.group.startswith(SECTOR_PREFIX):
            sectors.setdefault(hit.group.removeprefix(SECTOR_PREFIX), set()).add(hit.term)
    return {name: sorted(terms) for name, terms in sorted(sectors.items())}
