"""Publication dates as pages print them, read into aware UTC (a date without an offset is in
the outlet's own time zone).

Reads: date strings and URL paths from untrusted pages. Writes: nothing.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from monitor.collect.plaintext import clean_text

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}  # fmt: skip
_MONTH_RE = r"(?P<mon>[A-Za-z]{3,9})\.?"
# "Nov 23, 2026" / "November 23 2026"
_MDY = re.compile(_MONTH_RE + r"\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})\b")
# "23 Nov 2026" / "23 November, 2026"
_DMY = re.compile(r"\b(?P<day>\d{1,2})\s+" + _MONTH_RE + r",?\s+(?P<year>\d{4})\b")
# DD News display date "23/11/26 | 22:56" (also with a four-digit year, or without the time)
_SLASHED = re.compile(
    r"\b(?P<day>\d{1,2})/(?P<month>\d{1,2})/(?P<year>\d{4}|\d{2})\b"
    r"(?:\s*\|?\s*(?P<hour>\d{1,2}):(?P<minute>\d{2}))?"
)
_ISO_IN_TEXT = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
)
_PUBLISHED_ON = re.compile(r"published\s*(?:on|:)?\s*", re.IGNORECASE)
_SHORT_DATE_TEXT = 120
_MAX_DATE_TEXT = 20_000
_MIN_YEAR, _MAX_YEAR = 1970, 2100
_RFC822_HINT = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}")


@lru_cache(maxsize=32)
def _zone(name: str) -> tzinfo:
    return UTC if name.upper() == "UTC" else ZoneInfo(name)


def _aware(value: datetime, default_tz: str) -> datetime:
    """value in UTC (naive means default_tz); ValueError for dates no news page can carry."""
    if not _MIN_YEAR <= value.year <= _MAX_YEAR:
        raise ValueError(f"implausible year {value.year}")
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=_zone(default_tz))
    return value.astimezone(UTC)


def _local(
    year: int, month: int, day: int, hour: int, minute: int, default_tz: str
) -> datetime | None:
    try:
        return _aware(datetime(year, month, day, hour, minute), default_tz)
    except ValueError:
        return None


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year


def parse_date(value: str, default_tz: str) -> datetime | None:
    """Parse a page date into aware UTC; a date without an offset is read in default_tz.

    Accepts ISO 8601 (with or without offset, date only), RFC 822, "Nov 23, 2026", "23 Nov 2026"
    and "23/11/26 | 22:56" (day first), alone or inside a short text ("Nov 23, 2026 | 3 min
    read"); in a longer text only right after "Published on". A date without a time means
    midnight in default_tz. Anything else gives None.
    """
    text = clean_text(value[:_MAX_DATE_TEXT])
    if not text:
        return None
    try:
        return _aware(datetime.fromisoformat(text), default_tz)
    except ValueError:
        pass
    if _RFC822_HINT.match(text):
        try:
            return _aware(parsedate_to_datetime(text), default_tz)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    # Prefer the date right after "Published on": headers also show "Updated" dates.
    published = _PUBLISHED_ON.search(text)
    if published:
        found = _date_in_text(text[published.end() : published.end() + 60], default_tz)
        if found:
            return found
    # A date element holds a short text; a date somewhere in a long one is likely another event.
    return _date_in_text(text, default_tz) if len(text) <= _SHORT_DATE_TEXT else None


def _date_in_text(text: str, default_tz: str) -> datetime | None:
    candidates: list[tuple[int, datetime]] = []
    iso = _ISO_IN_TEXT.search(text)
    if iso:
        with contextlib.suppress(ValueError):
            parsed_iso = _aware(datetime.fromisoformat(iso.group()), default_tz)
            candidates.append((iso.start(), parsed_iso))
    for pattern in (_MDY, _DMY):
        m = pattern.search(text)
        month = _MONTHS.get(m.group("mon").lower()) if m else None
        if m and month:
            parsed = _local(_year(m.group("year")), month, int(m.group("day")), 0, 0, default_tz)
            if parsed:
                candidates.append((m.start(), parsed))
    m = _SLASHED.search(text)
    if m:
        hour = int(m.group("hour")) if m.group("hour") else 0
        minute = int(m.group("minute")) if m.group("minute") else 0
        parsed = _local(
            _year(m.group("year")), int(m.group("month")), int(m.group("day")), hour, minute,
            default_tz,
        )  # fmt: skip
        if parsed:
            candidates.append((m.start(), parsed))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def date_from_path(path: str, default_tz: str) -> datetime | None:
    """Midnight (in default_tz, as UTC) of the first /YYYY/MM/DD/ in a URL path."""
    m = re.search(r"/(\d{4})/(\d{2})/(\d{2})(?:/|$)", path)
    if not m:
        return None
    return _local(int(m.group(1)), int(m.group(2)), int(m.group(3)), 0, 0, default_tz)
