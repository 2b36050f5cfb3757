"""Fixture dates relative to a clock, so that no test depends on the calendar.

Reads: fixture text holding date tokens. Writes: nothing.

Fixture files (tests/data) and inline fixtures never write a calendar date; they write a token
that is rendered against the clock of the test that uses them:

    {{D-3 17:42+09:00 iso}}   the clock's UTC date minus 3 days, at 17:42 UTC+09:00, as ISO 8601
    {{D-2 18:45+05:30 %d/%m/%y | %H:%M}}   the same idea with any strftime pattern
    {{N-90m rfc822}}          the clock's instant minus 90 minutes (units d, h, m, s)
    {{N+30d@+05:30 rfc822}}   ... shown in UTC+05:30

Named formats: rfc822 (Mon, 23 Nov 2026 06:00:00 +0000), gmt (… 06:00:00 GMT, always UTC),
iso (2026-11-23T06:00:00+00:00, in the token's offset), isoz (2026-11-23T06:00:00Z),
date (2026-11-23), path (2026/11/23, as in Japan Times URLs), mdy (Nov 23, 2026),
long (November 23, 2026). Anything else is a strftime pattern.

A test that runs the monitor in a subprocess (on the machine's clock) renders with
`FixtureClock.real()`; an in-process test that injects `now=` renders with that same clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path

_TOKEN = re.compile(
    r"\{\{(?P<anchor>[DN])(?P<offset>[+-]\d+[dhms]?)?"
    r"(?: (?P<clock>\d\d:\d\d(?::\d\d)?)(?P<zone>Z|[+-]\d\d:\d\d)?)?"
    r"(?:@(?P<shown>Z|[+-]\d\d:\d\d))? (?P<fmt>[^{}]+?)\}\}"
)
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_FORMATS = {
    "rfc822": "%a, %d %b %Y %H:%M:%S %z",
    "date": "%Y-%m-%d",
    "path": "%Y/%m/%d",
    "mdy": "%b %-d, %Y",  # as the sites print them: no zero before the day
    "long": "%B %-d, %Y",
}


def _zone(text: str | None) -> timezone:
    if not text or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _format(moment: datetime, fmt: str) -> str:
    if fmt == "iso":
        return moment.isoformat(timespec="seconds")
    if fmt == "isoz":
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if fmt == "gmt":
        return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return moment.strftime(_FORMATS.get(fmt, fmt))


@dataclass(frozen=True)
class FixtureClock:
    """The instant fixture dates are relative to: the machine's clock or a test's injected one."""

    now: datetime

    @classmethod
    def real(cls) -> FixtureClock:
        return cls(datetime.now(UTC).replace(microsecond=0))

    def at(self, spec: str) -> datetime:
        """The moment a token names, without its format: at("D-3 17:42+09:00"), at("N-2h")."""
        moment, _ = self._moment(_TOKEN.fullmatch("{{" + spec + " iso}}"), spec)
        return moment

    def text(self, spec: str) -> str:
        """One token rendered: text("D-3 17:42+09:00 iso") → '2026-11-20T17:42:00+09:00'."""
        return self.render("{{" + spec + "}}")

    def render(self, template: str) -> str:
        """Every {{…}} date token in template replaced; a malformed token is an error."""
        out = _TOKEN.sub(self._replace, template)
        leftover = re.search(r"\{\{[DN][^}]*\}\}", out)
        if leftover:
            raise ValueError(f"malformed fixture date token {leftover.group(0)!r}")
        return out

    def read(self, path: Path) -> str:
        return self.render(path.read_text(encoding="utf-8"))

    def read_bytes(self, path: Path) -> bytes:
        return self.read(path).encode("utf-8")

    def _replace(self, match: re.Match[str]) -> str:
        moment, shown = self._moment(match, match.group(0))
        return _format(moment.astimezone(shown), match.group("fmt").strip())

    def _moment(self, match: re.Match[str] | None, spec: str) -> tuple[datetime, timezone]:
        if match is None:
            raise ValueError(f"malformed fixture date {spec!r}")
        offset = match.group("offset") or "+0"
        unit = offset[-1] if offset[-1] in _UNITS else "d"
        amount = int(offset.rstrip("dhms"))
        zone = _zone(match.group("zone"))
        if match.group("anchor") == "D":
            try:
                clock = time.fromisoformat(match.group("clock") or "00:00")
            except ValueError as exc:
                raise ValueError(f"malformed fixture date {spec!r}: {exc}") from None
            day = self.now.astimezone(UTC).date() + timedelta(**{_UNITS[unit]: amount})
            moment = datetime.combine(day, clock, tzinfo=zone)
        else:
            if match.group("clock"):
                raise ValueError(f"an N token takes no clock time: {spec!r}")
            moment = self.now + timedelta(**{_UNITS[unit]: amount})
        shown = _zone(match.group("shown")) if match.group("shown") else zone
        return moment, shown


class SettableClock:
    """A Clock (monitor.clock) a test moves by hand: `clock.now = later`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# The clock of the in-process golden tests: any instant works, this one keeps the goldens readable.
GOLDEN = FixtureClock(datetime(2026, 11, 23, 6, 0, tzinfo=UTC))
