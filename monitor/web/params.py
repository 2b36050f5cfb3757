"""A search as the pages, the API and the feeds take it from a URL's query string, checked.

Reads: the query string and the config (known sectors and sources). Writes: nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from monitor.config import Config
from monitor.judge.rules import Query, RuleSyntaxError, parse_query

MAX_QUERY = 500  # characters of a query; a rule is a few dozen
MAX_PER_PAGE = 100
MAX_PAGE = 500  # deep OFFSETs cost as much as reading every row before them


class ParamError(ValueError):
    """A parameter the view cannot use; str() says which and why, for the user."""


@dataclass(frozen=True)
class Search:
    text: str
    query: Query | None
    sector: str | None
    sources: tuple[str, ...]
    since: datetime | None
    until: datetime | None  # exclusive: the day after the `to` date
    story: str | None
    by_relevance: bool
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def link_params(self) -> dict[str, object]:
        """The query string that asks for this search again (page left out)."""
        return {
            "q": self.text,
            "sector": self.sector,
            "source": list(self.sources),
            "from": self.since.date().isoformat() if self.since else None,
            "to": (self.until - timedelta(days=1)).date().isoformat() if self.until else None,
            "story": self.story,
            "order": "relevance" if self.by_relevance else None,
        }


def one(params: Mapping[str, str], name: str, default: str = "") -> str:
    return params.get(name, default).strip()


def search_from(
    params: Mapping[str, str], sources: Sequence[str], config: Config, *, per_page: int = 20
) -> Search:
    """The search a query string asks for; `sources` are its (repeatable) source values."""
    text = one(params, "q")
    if len(text) > MAX_QUERY:
        raise ParamError(f"q: at most {MAX_QUERY} characters")
    try:
        query = parse_query(text) if text else None
    except RuleSyntaxError as exc:
        raise ParamError(f"q: {exc} in {text!r}") from None
    sector = one(params, "sector") or None
    if sector is not None and sector not in config.sectors:
        raise ParamError(f"sector: unknown sector {sector!r}")
    known = {s.id for s in config.sources}
    wanted = tuple(s for s in (v.strip() for v in sources) if s)
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise ParamError(f"source: unknown source {', '.join(unknown)}")
    since = _day(params, "from")
    until_day = _day(params, "to")
    until = until_day + timedelta(days=1) if until_day else None
    if since and until and since >= until:
        raise ParamError("from: must be on or before to")
    story = one(params, "story") or None
    if story is not None and (len(story) > 64 or not story.isalnum()):
        raise ParamError("story: not a story key")
    order = one(params, "order", "newest")
    if order not in ("newest", "relevance"):
        raise ParamError("order: newest or relevance")
    return Search(
        text=text,
        query=query,
        sector=sector,
        sources=wanted,
        since=since,
        until=until,
        story=story,
        by_relevance=order == "relevance" and query is not None,
        page=number(params, "page", 1, 1, MAX_PAGE),
        per_page=number(params, "per_page", per_page, 1, MAX_PER_PAGE),
    )


def number(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = one(params, name)
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ParamError(f"{name}: a whole number from {low} to {high}")
    return int(raw)


def _day(params: Mapping[str, str], name: str) -> datetime | None:
    """A YYYY-MM-DD date as the start of that day in UTC."""
    raw = one(params, name)
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ParamError(f"{name}: a date as YYYY-MM-DD, not {raw!r}") from None
    return datetime.combine(day, time.min, tzinfo=UTC)
