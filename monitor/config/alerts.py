"""feeds.yaml's alert side: subscribers and their rules, the delivery policy, the topic wording.

Reads/writes: nothing. Times, zones and rule queries are parsed once, when the file is loaded.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, field_validator, model_validator

from monitor.config.base import Seconds, Strict
from monitor.judge.rules import Query, parse_query

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _check_clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError(f"expected a local time like 08:00, got {value!r}")
    return value


def _clock_time(value: str) -> time:
    hours, minutes = value.strip().split(":")
    return time(int(hours), int(minutes))


class RuleConfig(Strict):
    """One keyword rule of a subscriber: a query plus optional filters."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=60)
    query: str | None = None
    sectors: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    min_relevance: float = Field(default=0.0, ge=0.0, le=1.0)
    _compiled: Query | None = PrivateAttr(default=None)

    @property
    def compiled(self) -> Query | None:
        """The query parsed at load time (Config checks and compiles every rule)."""
        if self._compiled is None and self.query is not None:
            self._compiled = parse_query(self.query)
        return self._compiled


class SubscriberConfig(Strict):
    """Someone who receives alerts: Apprise URLs (secrets as ${VAR}), timing and rules."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=60)
    urls: list[str] = Field(min_length=1)
    timezone: str = "UTC"
    mode: Literal["immediate", "digest"] = "immediate"
    digest: Literal["hourly", "daily"] = "daily"
    digest_at: str = "08:00"
    quiet_hours: str | None = None  # "22:00-07:00" in the subscriber's time zone
    # Later outlets on a story already alerted: one short "also reported by" message at once,
    # instead of an entry in the next digest.
    also_reported_by: bool = False
    rules: list[RuleConfig] = Field(min_length=1)
    _zone: ZoneInfo = PrivateAttr(default=ZoneInfo("UTC"))
    _quiet_span: tuple[time, time] | None = PrivateAttr(default=None)
    _digest_time: time = PrivateAttr(default=time(8, 0))

    @model_validator(mode="after")
    def _parse_times(self) -> SubscriberConfig:
        # Parsed once here; alert planning asks for them for every article it plans.
        self._zone = ZoneInfo(self.timezone)
        self._digest_time = _clock_time(self.digest_at)
        if self.quiet_hours:
            start, _, end = self.quiet_hours.partition("-")
            self._quiet_span = (_clock_time(start), _clock_time(end))
        return self

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def quiet(self) -> tuple[time, time] | None:
        """(start, end) of the quiet hours in the subscriber's zone, if any."""
        return self._quiet_span

    @property
    def digest_time(self) -> time:
        return self._digest_time

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r} (use e.g. Asia/Kolkata, Asia/Tokyo)"
            ) from None
        return v

    @field_validator("digest_at")
    @classmethod
    def _digest_at(cls, v: str) -> str:
        return _check_clock(v)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str | None) -> str | None:
        if v is None:
            return v
        start, sep, end = v.partition("-")
        if not sep:
            raise ValueError(f"expected quiet hours like 22:00-07:00, got {v!r}")
        _check_clock(start.strip())
        _check_clock(end.strip())
        return v

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if "://" not in url:
                raise ValueError(f"not an Apprise URL (scheme://...): {url[:20]!r}...")
        return v


class AlertSettings(Strict):
    """Delivery policy shared by all subscribers."""

    operator: list[str] = Field(default_factory=list)  # Apprise URLs told about failures
    credentials_file: str | None = None  # KEY=VALUE lines for ${VAR} placeholders
    max_attempts: int = Field(default=6, ge=1, le=50)
    retry_delay: Seconds = 60.0  # first retry; doubles each attempt
    max_age: Seconds = 48 * 3600.0  # older articles never alert immediately
    fold_threshold: int = Field(default=5, ge=1)  # more matches than this in a cycle: one message
    dispatch_interval: Seconds = Field(default=30.0, ge=1)  # the scheduler counts whole seconds
    connect_timeout: Seconds = 10.0  # to reach a mail server or an HTTP API
    send_timeout: Seconds = 30.0  # for the whole exchange once connected (SMTP's DATA reply too)
    claim_lease: Seconds = Field(default=300.0, ge=10)  # a claim of a silent process lapses then
    parallel_sends: int = Field(default=4, ge=1, le=32)  # messages in flight per channel


class TopicConfig(Strict):
    """How messages name what is watched; the engine knows no topic of its own."""

    label: str = ""  # e.g. "India–Japan": "Digest: 3 India–Japan stories", "India–Japan: why"
    name: str = Field(default="News Monitor", min_length=1)  # signs every message

    def stories(self, count: int, adjective: str = "") -> str:
        """'3 India–Japan stories', '3 past India–Japan stories' (no double spaces)."""
        return " ".join(w for w in (str(count), adjective, self.label, "stories") if w)

    def matches(self, count: int) -> str:
        return " ".join(w for w in (str(count), "new", self.label, "matches") if w)

    @property
    def why_prefix(self) -> str:
        return self.label or "Relevant"
