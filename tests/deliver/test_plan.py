"""Alert timing: quiet hours and digest times in the subscriber's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from monitor.config import SubscriberConfig
from monitor.deliver.plan import destination_key, in_quiet_hours, next_digest_at


def sub(**kw: Any) -> SubscriberConfig:
    base: dict[str, Any] = {
        "name": "a",
        "urls": ["mailto://x@example.org"],
        "rules": [{"name": "r"}],
    }
    return SubscriberConfig.model_validate({**base, **kw})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_quiet_hours_across_midnight_in_ist() -> None:
    s = sub(timezone="Asia/Kolkata", quiet_hours="22:00-07:00")
    # 17:00 UTC = 22:30 IST: quiet until 07:00 IST = 01:30 UTC next day
    assert in_quiet_hours(s, utc(2026, 11, 23, 17, 0)) == utc(2026, 11, 24, 1, 30)
    # 00:30 UTC = 06:00 IST: still quiet, ends 01:30 UTC the same day
    assert in_quiet_hours(s, utc(2026, 11, 24, 0, 30)) == utc(2026, 11, 24, 1, 30)
    # 06:00 UTC = 11:30 IST: not quiet
    assert in_quiet_hours(s, utc(2026, 11, 23, 6, 0)) is None
    assert in_quiet_hours(sub(), utc(2026, 11, 23, 6, 0)) is None


def test_quiet_hours_within_one_day() -> None:
    s = sub(timezone="Asia/Tokyo", quiet_hours="12:00-13:00")
    assert in_quiet_hours(s, utc(2026, 11, 23, 3, 30)) == utc(2026, 11, 23, 4, 0)  # 12:30 JST
    assert in_quiet_hours(s, utc(2026, 11, 23, 4, 0)) is None  # 13:00 JST: over


def test_daily_digest_at_local_time() -> None:
    s = sub(timezone="Asia/Tokyo", mode="digest", digest="daily", digest_at="08:00")
    # 22:00 UTC = 07:00 JST next day: digest at 08:00 JST = 23:00 UTC
    assert next_digest_at(s, utc(2026, 11, 23, 22, 0)) == utc(2026, 11, 23, 23, 0)
    # 23:00 UTC exactly = 08:00 JST: the next one is tomorrow
    assert next_digest_at(s, utc(2026, 11, 23, 23, 0)) == utc(2026, 11, 24, 23, 0)


def test_hourly_digest_in_half_hour_zone() -> None:
    s = sub(timezone="Asia/Kolkata", mode="digest", digest="hourly")
    # 06:10 UTC = 11:40 IST: next full IST hour is 12:00 IST = 06:30 UTC
    assert next_digest_at(s, utc(2026, 11, 23, 6, 10)) == utc(2026, 11, 23, 6, 30)


def test_destination_key_hides_the_url() -> None:
    key = destination_key("mailtos://user:${SMTP_PASS}@smtp.example.org")
    assert len(key) == 16 and "smtp" not in key
