"""`monitor rejudge`: apply the current relevance model and term lists to what is stored.

Reads: feeds.yaml and the database. Writes: new verdicts, dropped articles and forgotten stale
keys (nothing with --dry-run); a table or JSON on stdout.
"""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from monitor.cli.output import print_json, stdout
from monitor.cli.root import Context, cli, parse_since
from monitor.clock import utcnow
from monitor.judge.sort import Judge
from monitor.operate.rejudge import rejudge as run_rejudge


@cli.command()
@click.option("--since", metavar="DATE", help="Only articles published since: 2026-11-01, 30d.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def rejudge(obj: Context, since: str | None, dry_run: bool, as_json: bool) -> None:
    """Judge stored articles again with the current rules; drop what they no longer keep.

    Remembered irrelevant entries kept only their URL, so they cannot be read again: those
    judged under other rules are forgotten and judged anew when a poll or crawl meets them.
    Nothing old ever alerts.
    """
    loaded = obj.load()
    since_at = parse_since(since, utcnow()) if since else None
    report = run_rejudge(
        obj.database(), Judge(loaded.config), utcnow, since=since_at, dry_run=dry_run
    )
    if as_json:
        print_json(report.to_json())
        return
    would = "would be " if dry_run else ""
    table = Table(
        title=f"Rejudged {report.judged} stored articles" + (" (dry run)" if dry_run else "")
    )
    for col in ("change", "source", "title", "before", "after"):
        table.add_column(col, overflow="fold")
    for flip in report.flips:
        table.add_row(
            flip.change, escape(flip.source), escape(flip.title), escape(flip.was), escape(flip.now)
        )
    out = stdout()
    out.print(table)
    out.print(
        f"{report.kept} kept ({report.retagged} {would}re-tagged, {report.reasons_updated} with a "
        f"new reason), {report.dropped} {would}dropped; {report.stale_keys} remembered irrelevant "
        f"entries judged under other rules {would}forgotten (only their URL was kept: they are "
        "judged again when a poll or crawl meets them). Nothing old alerts."
    )
