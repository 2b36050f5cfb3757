"""Terminal view of a backfill: one progress bar per source while it runs, a table at the end.

Reads: SourceProgress updates from monitor.operate.backfill. Writes: bars to stderr (only on a
terminal) and the final table to stdout. Every value from the web is escaped for Rich markup.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from monitor.operate.walk import SourceProgress

COLUMNS = (
    "state",
    "pages",
    "articles",
    "relevant",
    "new",
    "duplicate",
    "out_of_range",
    "skipped",
    "failures",
    "oldest",
    "seconds",
)


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "–"


def covered_fraction(p: SourceProgress, since: datetime) -> float | None:
    """How much of [since, newest seen] the walk has covered, from the dates reached; None
    before any date is known (then no ETA can be given)."""
    if p.newest_at is None or p.oldest_at is None:
        return None
    span = (p.newest_at - since).total_seconds()
    if span <= 0:
        return 1.0
    return max(0.0, min(1.0, (p.newest_at - p.oldest_at).total_seconds() / span))


class BackfillBars:
    """Rich progress bars on stderr; a no-op when stderr is not a terminal (journald, cron, CI)."""

    def __init__(
        self, since: datetime, *, enabled: bool | None = None, console: Console | None = None
    ) -> None:
        console = console or Console(stderr=True)
        self.enabled = console.is_terminal if enabled is None else enabled
        self.since = since
        self._tasks: dict[str, TaskID] = {}
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeRemainingColumn(),
            console=console,
            disable=not self.enabled,
        )

    def __enter__(self) -> BackfillBars:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, p: SourceProgress) -> None:
        if not self.enabled:
            return
        detail = (
            f"{p.state} · pages {p.pages} · read {p.articles} · relevant {p.relevant} · "
            f"new {p.new} · oldest {_day(p.oldest_at)}"
        )
        fraction = covered_fraction(p, self.since)
        fields: dict[str, Any] = {"detail": detail}
        task = self._tasks.get(p.source)
        if task is None:
            task = self._progress.add_task(escape(p.source), total=None, **fields)
            self._tasks[p.source] = task
        if p.state in ("done", "covered"):
            fraction = 1.0
        if fraction is None:
            self._progress.update(task, **fields)
        else:
            self._progress.update(task, total=1000, completed=round(fraction * 1000), **fields)


def report_table(reports: list[SourceProgress], *, dry_run: bool) -> Table:
    """The final table: one row per source, in the order given."""
    title = "Backfill (dry run: nothing stored)" if dry_run else "Backfill"
    table = Table(title=title)
    table.add_column("source")
    for name in COLUMNS:
        table.add_column(name.replace("_", " "), justify="left" if name == "state" else "right")
    for p in reports:
        values = {
            **{name: str(getattr(p, name, "")) for name in COLUMNS},
            "oldest": _day(p.oldest_at),
        }
        table.add_row(escape(p.source), *(escape(values[name]) for name in COLUMNS))
    return table
