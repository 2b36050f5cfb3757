"""The backfill's terminal view: coverage fraction for the ETA, bars on a terminal, final table."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from monitor.operate.progress import BackfillBars, covered_fraction, report_table
from monitor.operate.walk import SourceProgress

SINCE = datetime(2025, 11, 1, tzinfo=UTC)


def progress(**kwargs: object) -> SourceProgress:
    return SourceProgress("orf", **kwargs)  # type: ignore[arg-type]


def test_covered_fraction_runs_from_the_newest_date_back_to_since() -> None:
    assert covered_fraction(progress(), SINCE) is None  # no date yet: no ETA
    newest = datetime(2026, 11, 1, tzinfo=UTC)
    half = datetime(2026, 5, 2, 12, tzinfo=UTC)
    assert covered_fraction(progress(newest_at=newest, oldest_at=newest), SINCE) == 0.0
    assert round(covered_fraction(progress(newest_at=newest, oldest_at=half), SINCE) or 0, 2) == 0.5
    past = datetime(2025, 1, 1, tzinfo=UTC)
    assert covered_fraction(progress(newest_at=newest, oldest_at=past), SINCE) == 1.0


def test_bars_draw_on_a_terminal_and_stay_silent_elsewhere() -> None:
    quiet = BackfillBars(SINCE, enabled=False)
    with quiet:
        quiet.update(progress(pages=3, new=2))
    assert quiet._tasks == {}

    out = io.StringIO()
    bars = BackfillBars(SINCE, console=Console(file=out, force_terminal=True, width=160))
    assert bars.enabled
    with bars:
        bars.update(progress(state="walking", pages=3, articles=30, relevant=12, new=9,
                             newest_at=datetime(2026, 11, 1, tzinfo=UTC),
                             oldest_at=datetime(2026, 5, 2, 12, tzinfo=UTC)))  # fmt: skip
    text = out.getvalue()
    assert "orf" in text and "pages 3" in text and "new 9" in text and "2026-05-02" in text


def test_final_table_has_one_row_per_source_and_escapes_markup() -> None:
    table = report_table(
        [progress(state="done", pages=4, new=7), SourceProgress("[red]x[/red]", state="failed")],
        dry_run=True,
    )
    out = io.StringIO()
    Console(file=out, width=200).print(table)
    text = out.getvalue()
    assert "dry run: nothing stored" in text
    assert "[red]x[/red]" in text  # shown literally, not interpreted as Rich markup
    assert "done" in text and "failed" in text
