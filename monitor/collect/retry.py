"""The one retry policy: exponential backoff with a cap, and the delay a server asks for.

Reads: attempt counts and Retry-After header values. Writes: nothing. Feeds, crawls, alert
deliveries and operator notices all wait through these functions, so they back off alike and no
server-supplied value (a huge number, a date in year 9999) can overflow a timer or park a job.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# The longest wait a server may impose through Retry-After; beyond it, the caller's own
# backoff decides. A day keeps a misbehaving server from silencing a source for good.
MAX_SERVER_DELAY = timedelta(days=1)


def backoff(first: timedelta, attempts: int, cap: timedelta) -> timedelta:
    """first × 2^(attempts − 1), never more than cap; attempts ≤ 1 waits `first`."""
    doublings = min(max(attempts - 1, 0), 1000)  # in float seconds, so no timedelta overflows
    seconds = max(first.total_seconds(), 0.0) * 2.0**doublings
    return timedelta(seconds=min(seconds, cap.total_seconds()))


def retry_after(value: str | bytes | None, now: datetime) -> timedelta | None:
    """What a Retry-After header asks: delta-seconds or an HTTP date, clamped to
    [0, MAX_SERVER_DELAY]; None when absent or unreadable."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        seconds = float(min(int(text), int(MAX_SERVER_DELAY.total_seconds())))
        return timedelta(seconds=seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # RFC 5322 "-0000" yields a naive datetime; HTTP dates are always UTC.
        when = when.replace(tzinfo=UTC)
    try:
        wait = when - now
    except OverflowError:
        return MAX_SERVER_DELAY
    return min(max(wait, timedelta(0)), MAX_SERVER_DELAY)


def next_attempt(
    first: timedelta, attempts: int, cap: timedelta, asked: timedelta | None = None
) -> timedelta:
    """The wait before the next attempt: the backoff, or longer if the server asked for it."""
    delay = backoff(first, attempts, cap)
    return max(delay, asked) if asked is not None else delay
