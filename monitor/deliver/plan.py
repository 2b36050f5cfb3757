"""Alert planning: which subscribers' rules a new article matches, written to the outbox.

Reads: subscribers and rules from the config, new articles. Writes: delivery rows in the same
transaction as the articles (storage/deliveries.py), so a stored article always has its alerts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from monitor.article import Article, IngestMode
from monitor.config import Config, SubscriberConfig
from monitor.deliver.destinations import channel_of
from monitor.judge.rules import Rule, RuleMatch, RuleSet
from storage import deliveries
from storage.stories import story_key


def _story(article: Article) -> str | None:
    """The story key alerts are counted by: the cross-outlet story, else the fingerprint."""
    if article.story is not None:
        return story_key(article.story)
    return article.fingerprint or None


def destination_key(url_template: str) -> str:
    """Stable id of a destination; a digest of the URL template, so no secret is stored."""
    return hashlib.sha256(url_template.encode("utf-8")).hexdigest()[:16]


def in_quiet_hours(sub: SubscriberConfig, now: datetime) -> datetime | None:
    """When the subscriber's quiet hours end, if `now` falls inside them; else None."""
    if sub.quiet is None:
        return None
    tz = sub.zone
    local = now.astimezone(tz)
    start, end = sub.quiet
    t = local.time()
    inside = (start <= t < end) if start <= end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=tz)


def next_digest_at(sub: SubscriberConfig, now: datetime) -> datetime:
    """The next digest time after `now`: the next full hour, or the next daily local time."""
    tz = sub.zone
    local = now.astimezone(tz)
    if sub.digest == "hourly":
        return (local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).astimezone(
            tz
        )
    at = sub.digest_time
    candidate = datetime.combine(local.date(), at, tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=tz)
    return candidate


@dataclass(frozen=True)
class Destination:
    key: str
    channel: str
    url: str  # template, may hold ${VAR} placeholders


class Alerts:
    """Compiled subscribers and rules; plan() turns new articles into outbox rows."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.topic = config.topic
        self.subscribers = {s.name: s for s in config.subscribers}
        self.destinations = {
            s.name: [Destination(destination_key(u), channel_of(u), u) for u in s.urls]
            for s in config.subscribers
        }
        self.rules = RuleSet(
            Rule(
                key=f"{s.name}/{r.name}",
                query=r.compiled,
                sectors=frozenset(r.sectors),
                sources=frozenset(r.sources),
                min_relevance=r.min_relevance,
            )
            for s in config.subscribers
            for r in s.rules
        )

    def matches(self, article: Article) -> dict[str, list[RuleMatch]]:
        """Subscriber name → the rules of theirs the article matches."""
        out: dict[str, list[RuleMatch]] = {}
        for match in self.rules.match(article):
            out.setdefault(match.rule.split("/", 1)[0], []).append(match)
        return out

    def plan(
        self,
        conn: Connection,
        new: Sequence[tuple[int, Article]],
        now: datetime,
        *,
        baseline: datetime | None,
        ingest_mode: IngestMode = "live",
    ) -> int:
        """Write the deliveries of newly stored articles; returns how many rows were written."""
        if not self.subscribers:
            return 0
        max_age = timedelta(seconds=self.config.alerts.max_age)
        rows: list[dict[str, Any]] = []
        planned: list[tuple[dict[str, Any], SubscriberConfig, Article]] = []
        for article_id, article in new:
            for name, matched in self.matches(article).items():
                sub = self.subscribers[name]
                reason = article.relevance_reason.get("text", "")
                why = [self._why(m) for m in matched] + [f"{self.topic.why_prefix}: {reason}"]
                for dest in self.destinations[name]:
                    row = {
                        "subscriber": name,
                        "destination": dest.key,
                        "channel": dest.channel,
                        "article_id": article_id,
                        "mode": sub.mode,
                        "story": _story(article),
                        "rules": [m.rule.split("/", 1)[1] for m in matched],
                        "why": why,
                        "created_at": now,
                        "due_at": now,
                        "state": "pending",
                        "reason": None,
                    }
                    planned.append((row, sub, article))
                    rows.append(row)
        # One query for the whole batch: which destinations already had each story.
        alerted = deliveries.stories_alerted(
            conn, [(r["subscriber"], r["destination"], r["story"]) for r in rows if r["story"]]
        )
        for row, sub, article in planned:
            self._schedule(row, sub, article, now, max_age, baseline, ingest_mode, alerted)
            if row["state"] == "pending" and row["mode"] == "immediate" and row["story"]:
                # two outlets' reports of one event in one batch: the first alerts
                alerted.add((sub.name, str(row["destination"]), str(row["story"])))
        return deliveries.insert_deliveries(conn, rows)

    def _schedule(
        self,
        row: dict[str, Any],
        sub: SubscriberConfig,
        article: Article,
        now: datetime,
        max_age: timedelta,
        baseline: datetime | None,
        ingest_mode: IngestMode,
        alerted: set[tuple[str, str, str]],
    ) -> None:
        # The first collection records what the source already held; news since it was
        # added (by its own date) alerts as usual, even if that collection is a retry.
        if baseline is not None and (
            not article.published_from_source or article.published_at < baseline
        ):
            row.update(state="suppressed", reason="baseline: first collection of this source")
        elif ingest_mode == "backfill":
            row.update(state="suppressed", reason="backfill")
        elif sub.mode == "digest":
            row["due_at"] = next_digest_at(sub, now)
        elif article.published_at < now - max_age:
            row.update(state="suppressed", reason="older than alerts.max_age")
        elif row["story"] and (sub.name, row["destination"], row["story"]) in alerted:
            # Alerted once already: this outlet's report joins the story in the next digest, or
            # (also_reported_by) in a short follow-up.
            row["reason"] = "same story already alerted"
            if sub.also_reported_by:
                row["mode"] = "followup"
                row["due_at"] = in_quiet_hours(sub, now) or now
            else:
                row.update(mode="digest", due_at=next_digest_at(sub, now))
        else:
            quiet_end = in_quiet_hours(sub, now)
            if quiet_end is not None:
                row["due_at"] = quiet_end

    @staticmethod
    def _why(match: RuleMatch) -> str:
        rule = match.rule.split("/", 1)[1]
        parts = []
        if match.terms:
            parts.append(", ".join(match.terms))
        if match.sectors:
            parts.append("sectors " + ", ".join(match.sectors))
        return f"rule {rule}: " + ("; ".join(parts) if parts else "all articles")
