"""The shared path every parsed article takes: relevance → dedup → tag → store → alert.

Reads: Articles from feeds (and later spiders) plus the compiled rules from feeds.yaml.
Writes: new articles and tags, and the keys of entries not worth storing. Nothing here knows
where an article came from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

from monitor.article import Article
from monitor.collect.canonical import url_hash
from monitor.config import Config
from monitor.deliver.plan import Alerts
from monitor.judge.dedup import drop_ambiguous_guids, fingerprint
from monitor.judge.relevance import BILATERAL, INDIA, JAPAN, assess
from monitor.judge.tag import sector_group, tag
from monitor.judge.terms import TermMatcher
from storage import articles as store
from storage.db import Database

log = logging.getLogger("monitor.pipeline")


@dataclass
class Outcome:
    entries: int = 0
    new: list[tuple[int, Article]] = field(default_factory=list)
    duplicate: int = 0
    irrelevant: int = 0
    updated: int = 0  # stored articles that received a fuller text (also counted as duplicate)
    planned: int = 0  # deliveries written to the alert outbox


@dataclass
class _Sorted:
    """One batch sorted against storage, before anything is written."""

    outcome: Outcome
    keyed: dict[str, Article]  # URL key → article, excluded and in-batch repeats left out
    relevant: dict[str, Article]  # new keys judged India–Japan
    irrelevant: list[str]  # new keys judged not India–Japan
    fuller: list[tuple[int, Article]]  # stored rows this batch carries a fuller text for


class Pipeline:
    """Compiled once from the config; process() is called per batch of articles."""

    def __init__(self, config: Config, db: Database, alerts: Alerts | None = None) -> None:
        self.db = db
        self.alerts = alerts if alerts is not None else Alerts(config)
        relevance = config.relevance
        groups: dict[str, list[str]] = {
            INDIA: relevance.india,
            JAPAN: relevance.japan,
            BILATERAL: relevance.bilateral,
        }
        for name, sector in config.sectors.items():
            groups[sector_group(name)] = sector.terms
        self.matcher = TermMatcher(groups)
        self.near_words = relevance.near_words
        # Irrelevant verdicts are remembered per rule set: editing the terms re-opens them.
        self.rules_hash = hashlib.sha256(
            json.dumps(relevance.model_dump(), sort_keys=True).encode()
        ).hexdigest()[:16]
        self.exclude = {
            s.id: [re.compile(p) for p in s.exclude_urls] for s in config.sources if s.exclude_urls
        }

    def judge(self, article: Article) -> bool:
        """Relevance and sector tags for one article, recorded on it; True when relevant."""
        hits = self.matcher.find(
            (("title", article.title), ("summary", article.summary), ("text", article.text))
        )
        verdict = assess(hits, self.near_words)
        article.relevance = verdict.score
        article.relevance_reason = verdict.reason
        if verdict.relevant:
            article.sectors = tag(hits)
            article.fingerprint = fingerprint(article) or ""
        return verdict.relevant

    def process(
        self,
        source_id: str,
        articles: list[Article],
        now: datetime,
        ingest_mode: str = "live",
        *,
        baseline: bool = False,
    ) -> Outcome:
        """Store the new India–Japan articles of one batch; report what happened to each entry."""
        batch = self._classify(source_id, articles)
        outcome, keyed, relevant = batch.outcome, batch.keyed, batch.relevant
        irrelevant, fuller = batch.irrelevant, batch.fuller
        with self.db.write() as conn:
            outcome.new = store.insert_articles(conn, list(relevant.values()), ingest_mode)
            # → alert: the outbox rows commit together with the articles, or not at all.
            outcome.planned = self.alerts.plan(
                conn, outcome.new, now, baseline=baseline, ingest_mode=ingest_mode
            )
            new_ids = {id(article) for _, article in outcome.new}
            # Same story under another key (guid or fingerprint): remember, never re-judge.
            duplicates = [k for k, a in relevant.items() if id(a) not in new_ids]
            outcome.duplicate += len(duplicates)
            store.remember(conn, source_id, duplicates, "duplicate", None, now)
            store.remember(
                conn,
                source_id,
                irrelevant,
                "irrelevant",
                self.rules_hash,
                now,
                full_text=[k for k in irrelevant if keyed[k].text],
            )
            for row_id, article in fuller:
                store.update_text(conn, row_id, article, now)
            outcome.updated = len(fuller)
        if ingest_mode == "live":  # a backfill would flood the journal with old news
            for row_id, article in outcome.new:
                # One line per new article; the title comes from the web, the formatter escapes it.
                log.info(
                    "article stored",
                    extra={
                        "source": source_id,
                        "id": row_id,
                        "title": article.title,
                        "url": article.url,
                    },
                )
        return outcome

    def preview(self, source_id: str, articles: list[Article]) -> Outcome:
        """What process() would do with a batch, without writing anything (dry runs).

        `new` lists the articles that would be inserted (row id 0); one that turns out to be the
        same story as a stored one under another key is only found out by the insert itself.
        """
        batch = self._classify(source_id, articles)
        batch.outcome.new = [(0, article) for article in batch.relevant.values()]
        batch.outcome.updated = len(batch.fuller)
        return batch.outcome

    def _classify(self, source_id: str, articles: list[Article]) -> _Sorted:
        """Read-only half of process(): which entries are new and relevant, which are known."""
        outcome = Outcome(entries=len(articles))
        drop_ambiguous_guids(articles)
        excluded = self.exclude.get(source_id, [])
        keyed: dict[str, Article] = {}
        for article in articles:
            if any(p.search(article.url) for p in excluded):
                outcome.irrelevant += 1
            elif (key := url_hash(article.url)) in keyed:
                outcome.duplicate += 1  # the same link twice in one batch
            else:
                keyed[key] = article
        with self.db.read() as conn:
            known = store.known_keys(conn, source_id, list(keyed), self.rules_hash)
        relevant: dict[str, Article] = {}
        irrelevant: list[str] = []
        fuller: list[tuple[int, Article]] = []
        for key, article in keyed.items():
            if key in known.stored:
                outcome.duplicate += 1
                row_id, stored_length = known.stored[key]
                if _is_fuller(article.text, stored_length) and self.judge(article):
                    fuller.append((row_id, article))
            elif key in known.duplicate:
                outcome.duplicate += 1
            elif key in known.irrelevant and (known.irrelevant[key] or not article.text):
                outcome.irrelevant += 1
            elif self.judge(article):
                relevant[key] = article
            else:
                irrelevant.append(key)
        outcome.irrelevant += len(irrelevant)
        return _Sorted(outcome, keyed, relevant, irrelevant, fuller)


def _is_fuller(text: str, stored_length: int) -> bool:
    """Worth replacing the stored text: clearly longer (not a one-word edit of the same text)."""
    return len(text) > stored_length * 1.1 + 40
