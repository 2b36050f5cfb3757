"""Sorting a batch: which entries are excluded, repeated, already known, India–Japan or not.

Reads: Articles, the relevance and sector terms from the config, and what storage already knows
about their keys (storage.articles.Known). Writes: nothing; the verdict, score, reason, sectors
and fingerprint are set on each judged Article.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from monitor.article import Article
from monitor.collect.canonical import url_hash
from monitor.config import Config
from monitor.judge.dedup import drop_ambiguous_guids, fingerprint
from monitor.judge.relevance import MODEL_VERSION, Verdict, assess, groups
from monitor.judge.tag import Tags, sector_groups, tag
from monitor.judge.terms import TermMatcher
from monitor.judge.text import read
from storage.articles import Known


@dataclass
class Batch:
    """One batch sorted against storage, before anything is written."""

    entries: int
    keyed: dict[str, Article]  # URL key → article, excluded and in-batch repeats left out
    source_id: str = ""
    relevant: dict[str, Article] = field(default_factory=dict)  # new keys judged India–Japan
    irrelevant: list[str] = field(default_factory=list)  # new keys judged not India–Japan
    fuller: list[tuple[int, Article]] = field(default_factory=list)  # stored, now fuller text
    duplicate: int = 0  # repeats in the batch and keys storage already holds
    skipped: int = 0  # excluded by URL, or known irrelevant
    passed: set[str] = field(default_factory=set)  # the keys of those skipped
    # URLs of entries judged not relevant on a short feed text that may be once their page is
    # read (sources with `enrich: true`): not remembered, so the page decides.
    enrich: list[str] = field(default_factory=list)


class Judge:
    """Compiled once from the config: relevance and sector terms in one matcher, exclusions."""

    def __init__(self, config: Config) -> None:
        relevance = config.relevance
        terms = groups(
            india=relevance.india,
            japan=relevance.japan,
            bilateral=relevance.bilateral,
            others=relevance.others,
            false_friends=relevance.false_friends,
            false_friend_contexts=relevance.false_friend_contexts,
            relation=relevance.relation,
            descriptors=relevance.descriptors,
            comparison=relevance.comparison,
            lists=relevance.lists,
            sport=relevance.sport,
        )
        for name, sector in config.sectors.items():
            terms.update(sector_groups(name, sector))
        self.matcher = TermMatcher(terms)
        self.near_words = relevance.near_words
        # Irrelevant verdicts are remembered per rule set: editing the terms, or a new model,
        # re-opens them.
        self.rules_hash = hashlib.sha256(
            json.dumps({"model": MODEL_VERSION, **relevance.model_dump()}, sort_keys=True).encode()
        ).hexdigest()[:16]
        # Everything that decides what an entry becomes: part of each entry's digest
        # (collect/entries.py), so editing any of it has every entry read again.
        self.signature = hashlib.sha256(
            json.dumps(
                [MODEL_VERSION, config.model_dump(include={"relevance", "sectors"}),
                 {s.id: s.exclude_urls for s in config.sources}],
                sort_keys=True, default=str,
            ).encode()
        ).digest()  # fmt: skip
        self.exclude = {
            s.id: [re.compile(p) for p in s.exclude_urls] for s in config.sources if s.exclude_urls
        }
        self.enrich = frozenset(s.id for s in config.sources if s.enrich)

    def assess(self, article: Article, *, tags: bool = True) -> tuple[Verdict, Tags]:
        """The verdict and (unless `tags` is false) the sector tags of one article, without
        recording them."""
        sentences = read(article.title, article.summary, article.text)
        texts, hits = self.matcher.scan((s.field, s.raw) for s in sentences)
        verdict = assess(sentences, texts, hits, self.near_words)
        if not tags and not verdict.relevant:
            return verdict, Tags()
        return verdict, tag(sentences, texts, hits)

    def judge(self, article: Article) -> bool:
        """Relevance and sector tags for one article, recorded on it; True when relevant."""
        return self.record(article).relevant

    def record(self, article: Article) -> Verdict:
        """judge(), returning the whole verdict."""
        verdict, tags = self.assess(article, tags=False)  # irrelevant ones are not tagged
        article.relevance = verdict.score
        article.relevance_reason = verdict.reason
        article.sectors = {}
        if verdict.relevant:
            article.sectors = tags.sectors
            article.relevance_reason.update(
                primary_sector=tags.primary,
                sector_evidence=tags.evidence,
            )
            if tags.ignored:
                article.relevance_reason["sector_senses"] = (
                    f"read in another sense: {', '.join(map(repr, tags.ignored))}"
                )
            article.fingerprint = fingerprint(article) or ""
        return verdict

    def keyed(self, source_id: str, articles: list[Article]) -> Batch:
        """Dedup by key within the batch: excluded URLs and repeated links left out."""
        batch = Batch(entries=len(articles), keyed={}, source_id=source_id)
        drop_ambiguous_guids(articles)
        excluded = self.exclude.get(source_id, [])
        for article in articles:
            if any(p.search(article.url) for p in excluded):
                batch.skipped += 1
                batch.passed.add(url_hash(article.url))
            elif (key := url_hash(article.url)) in batch.keyed:
                batch.duplicate += 1  # the same link twice in one batch
            else:
                batch.keyed[key] = article
        return batch

    def sort(self, batch: Batch, known: Known) -> Batch:
        """Judge only what storage does not know yet (and fuller texts of stored articles).
        For a source with `enrich: true`, an entry with only a feed description that names a
        side, a bilateral or a sector term and is not relevant on that text goes to
        `batch.enrich`: its page is read before the verdict."""
        for key, article in batch.keyed.items():
            if key in known.stored:
                batch.duplicate += 1
                row_id, stored_length = known.stored[key]
                if _is_fuller(article.text, stored_length) and self.judge(article):
                    batch.fuller.append((row_id, article))
            elif key in known.duplicate:
                batch.duplicate += 1
            elif key in known.irrelevant and (known.irrelevant[key] or not article.text):
                batch.skipped += 1
                batch.passed.add(key)
            elif (verdict := self.record(article)).relevant:
                batch.relevant[key] = article
            elif verdict.plausible and not article.text and batch.source_id in self.enrich:
                batch.enrich.append(article.url)
            else:
                batch.irrelevant.append(key)
        return batch


def _is_fuller(text: str, stored_length: int) -> bool:
    """Worth replacing the stored text: clearly longer (not a one-word edit of the same text)."""
    return len(text) > stored_length * 1.1 + 40
