"""Fixture dates follow the clock: the token renderer, and guards that keep literal dates out."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from tests.conftest import DATA, REPO
from tests.fixture_dates import FixtureClock

CLOCK = FixtureClock(datetime(2027, 2, 28, 22, 30, 15, tzinfo=UTC))

# Dates as the fixtures' formats write them; none may appear outside a {{…}} token.
_LITERAL_DATES = re.compile(
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4}"
    r"|\b(?:19|20)\d\d-\d\d-\d\d\b"
    r"|/(?:19|20)\d\d/\d\d/\d\d/"
    r"|\b\d\d/\d\d/\d\d \| \d\d:\d\d"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2}, (?:19|20)\d\d"
)
_TOKEN = re.compile(r"\{\{[DN][^}]*\}\}")
# Feed dates in inline fixtures of test modules must come from a clock too.
_INLINE_FEED_DATE = re.compile(r"<(pubDate|updated|published|dc:date|lastBuildDate)>[^{<]")


def test_day_tokens_keep_the_local_time_and_move_with_the_clock() -> None:
    assert CLOCK.text("D-3 17:42+09:00 iso") == "2027-02-25T17:42:00+09:00"
    assert CLOCK.at("D-3 17:42+09:00") == datetime(2027, 2, 25, 8, 42, tzinfo=UTC)
    assert CLOCK.text("D+1 path") == "2027/03/01"  # across the month end
    assert CLOCK.text("D-2 18:45+05:30 %d/%m/%y | %H:%M") == "26/02/27 | 18:45"
    assert CLOCK.text("D-25 mdy") == "Feb 3, 2027"  # the sites do not zero-pad days


def test_now_tokens_are_exact_offsets_and_rfc822_round_trips() -> None:
    text = CLOCK.text("N-90m rfc822")
    assert text == "Sun, 28 Feb 2027 21:00:15 +0000"
    assert parsedate_to_datetime(text) == CLOCK.now - timedelta(minutes=90)
    assert CLOCK.text("N+0@+05:30 rfc822") == "Mon, 01 Mar 2027 04:00:15 +0530"
    assert CLOCK.text("N-1h gmt").endswith(" GMT")
    assert CLOCK.at("N+30d") == CLOCK.now + timedelta(days=30)
    assert CLOCK.at("D+0 00:00+09:00").utcoffset() == timezone(timedelta(hours=9)).utcoffset(None)


def test_render_replaces_every_token_and_refuses_a_malformed_one() -> None:
    assert CLOCK.render("<a>{{D-1 date}}</a><b>{{N-1d isoz}}</b>") == (
        "<a>2027-02-27</a><b>2027-02-27T22:30:15Z</b>"
    )
    with pytest.raises(ValueError, match="malformed"):
        CLOCK.render("{{D-1 25:00 iso}}")
    with pytest.raises(ValueError, match="malformed"):
        CLOCK.render("{{N-1h}}")


def test_real_clock_is_the_machine_clock() -> None:
    clock = FixtureClock.real()
    assert abs(clock.now - datetime.now(UTC)) < timedelta(seconds=5)


# A database written by a past release (releases/*.db) holds the dates it was written on; the
# tests that open it compare its rows before and after an upgrade, never with the clock.
@pytest.mark.parametrize(
    "path",
    sorted(p for p in DATA.rglob("*") if p.is_file() and p.suffix != ".db"),
    ids=lambda p: str(p.relative_to(DATA)),
)
def test_fixture_files_write_dates_only_as_tokens(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    literal = [m.group(0) for m in _LITERAL_DATES.finditer(_TOKEN.sub("", text))]
    assert literal == [], f"{path}: write dates as {{{{D-3 17:42+09:00 iso}}}} tokens: {literal}"
    FixtureClock.real().render(text)  # every token is well formed


def test_inline_feed_fixtures_take_their_dates_from_a_clock() -> None:
    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _INLINE_FEED_DATE.search(line) and path.name != Path(__file__).name:
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == [], "build feed dates from a FixtureClock:\n" + "\n".join(offenders)


@pytest.mark.skipif("FAKETIME" in os.environ, reason="already under a shifted clock")
def test_clockshift_moves_the_wall_clock_of_child_processes() -> None:
    probe = "import time, datetime; time.sleep(0.01); print(datetime.date.today().isoformat())"
    done = subprocess.run(
        [sys.executable, "-m", "tests.clockshift", "+400d", sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    seen = datetime.fromisoformat(done.stdout.strip()).date()
    assert abs((seen - datetime.now(UTC).date()).days - 400) <= 1
    assert "clock at" in done.stderr
