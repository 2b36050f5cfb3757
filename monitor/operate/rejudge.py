"""`monitor rejudge`: the current relevance model and term lists applied to what is stored.

Reads: stored articles and remembered keys. Writes (unless dry_run): new scores, reasons and
sector tags of the articles that stay; drops the ones the rules no longer keep (remembering their
keys as irrelevant under the current rules, so they are not stored again); forgets remembered
irrelevant keys judged under other rules. Never plans a delivery: nothing old alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from monitor.clock import Clock
from monitor.judge.sort import Judge
from storage import articles as store
from storage import sources as state
from storage import verdicts
from storage.db import Database


@dataclass
class Flip:
    """One stored article whose verdict or tags change."""

    id: int
    source: str
    url: str
    title: str
    change: str  # "dropped" | "retagged"
    was: str  # the reason or sectors before
    now: str  # after

    def to_json(self) -> dict[str, Any]:
        return {
            k: getattr(self, k) for k in ("id", "source", "url", "title", "change", "was", "now")
        }


@dataclass
class RejudgeReport:
    dry_run: bool
    rules_hash: str
    judged: int = 0  # stored articles judged again
    kept: int = 0  # still relevant
    dropped: int = 0  # no longer relevant: removed, their keys remembered as irrelevant
    retagged: int = 0  # still relevant, with other sectors or another primary sector
    reasons_updated: int = 0  # still relevant, reason rewritten by the current model
    stale_keys: int = 0  # remembered irrelevant keys judged under other rules: forgotten
    flips: list[Flip] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "flips"}
        data["flips"] = [f.to_json() for f in self.flips]
        return data


def _sectors(sectors: dict[str, list[str]], primary: str | None) -> str:
    names = ", ".join(sorted(sectors)) or "none"
    return f"{names} (primary {primary})" if primary else names


def rejudge(
    db: Database, judge: Judge, now: Clock, *, since: datetime | None, dry_run: bool
) -> RejudgeReport:
    """Judge every stored article (published since `since`) again with `judge`; forget stale
    remembered verdicts. With dry_run, only report what would change."""
    report = RejudgeReport(dry_run=dry_run, rules_hash=judge.rules_hash)
    updates: list[tuple[int, Any]] = []
    drops: dict[str, list[tuple[int, str, bool]]] = {}  # source → (id, key, judged on full text)
    with db.read() as conn:
        for row in verdicts.stored(conn, since):
            report.judged += 1
            fresh = replace(row.article, relevance_reason={}, sectors={})
            if not judge.judge(fresh):
                report.dropped += 1
                drops.setdefault(row.article.source_id, []).append(
                    (row.id, row.key, bool(row.article.text))
                )
                report.flips.append(
                    Flip(row.id, row.article.source_id, row.article.url, row.article.title,
                         "dropped", str(row.article.relevance_reason.get("text", "")),
                         str(fresh.relevance_reason.get("text", "")))
                )  # fmt: skip
                continue
            report.kept += 1
            primary = fresh.relevance_reason.get("primary_sector")
            if fresh.sectors != row.article.sectors or primary != row.primary:
                report.retagged += 1
                report.flips.append(
                    Flip(row.id, row.article.source_id, row.article.url, row.article.title,
                         "retagged", _sectors(row.article.sectors, row.primary),
                         _sectors(fresh.sectors, primary))
                )  # fmt: skip
            if fresh.relevance_reason != row.article.relevance_reason:
                report.reasons_updated += 1
            if (
                fresh.relevance_reason != row.article.relevance_reason
                or fresh.sectors != row.article.sectors
                or fresh.relevance != row.article.relevance
            ):
                updates.append((row.id, fresh))
        report.stale_keys = verdicts.stale_irrelevant(conn, judge.rules_hash, since)
    if dry_run:
        return report
    at = now()
    with db.write() as conn:
        for article_id, article in updates:
            verdicts.update_verdict(conn, article_id, article)
        verdicts.forget_stale(conn, judge.rules_hash, since)
        # Verdicts changed: the next poll reads every feed entry again, none is recognised.
        state.forget_entry_records(conn)
        for source_id, rows in drops.items():
            verdicts.drop(conn, [article_id for article_id, _, _ in rows])
            store.remember(
                conn, source_id, [key for _, key, _ in rows], "irrelevant", judge.rules_hash, at,
                [key for _, key, full in rows if full],
            )  # fmt: skip
    return report
