"""The one retry policy: backoff doubling to a cap, Retry-After read and clamped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.collect.retry import MAX_SERVER_DELAY, backoff, next_attempt, retry_after
from monitor.flow import MAX_BACKOFF

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # an injected clock; nothing here reads the real one
FEED_FIRST = timedelta(seconds=600 * 0.8)  # a feed polled every 10 min first waits 8 min


def test_backoff_doubles_and_is_capped() -> None:
    assert backoff(FEED_FIRST, 1, MAX_BACKOFF) == timedelta(seconds=480)
    assert backoff(FEED_FIRST, 3, MAX_BACKOFF) == timedelta(seconds=1920)
    assert backoff(FEED_FIRST, 30, MAX_BACKOFF) == timedelta(hours=6)
    assert backoff(FEED_FIRST, 0, MAX_BACKOFF) == FEED_FIRST
    # A counter that ran for months never overflows a timer.
    assert backoff(timedelta(minutes=5), 10**9, timedelta(hours=6)) == timedelta(hours=6)


def test_the_server_may_ask_for_longer_but_not_forever() -> None:
    asked = retry_after("7200", NOW)
    assert next_attempt(FEED_FIRST, 1, MAX_BACKOFF, asked) == timedelta(hours=2)
    assert next_attempt(FEED_FIRST, 3, MAX_BACKOFF, retry_after("5", NOW)) == timedelta(
        seconds=1920
    )
    assert retry_after("99999999999999999999", NOW) == MAX_SERVER_DELAY
    assert retry_after("Fri, 31 Dec 9999 23:59:59 GMT", NOW) == MAX_SERVER_DELAY


def test_retry_after_reads_seconds_and_http_dates() -> None:
    later = (NOW + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after(later, NOW) == timedelta(seconds=90)
    assert retry_after(later.encode(), NOW) == timedelta(seconds=90)
    earlier = (NOW - timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after(earlier, NOW) == timedelta(0)
    assert retry_after(" 120 ", NOW) == timedelta(seconds=120)
    for garbage in (None, "", "soon", "-5", "1.5", "Mon, 99 Foo 2026"):
        assert retry_after(garbage, NOW) is None
