"""feeds.yaml's schema: every section as a frozen, validated model; times and rules parsed once.

Reads/writes: nothing; load.py builds a Config from the file, naming file, line and key of every
mistake.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Annotated
from urllib.parse import urljoin

from pydantic import Field, field_validator, model_validator

from monitor.config.alerts import AlertSettings, RuleConfig, SubscriberConfig, TopicConfig
from monitor.config.base import (
    DEFAULT_USER_AGENT,
    PathError,
    Seconds,
    Seconds0,
    Strict,
    Term,
    check_http_url,
    check_term,
)
from monitor.judge.rules import RuleSyntaxError, parse_query


class FetchConfig(Strict):
    user_agent: str = Field(default=DEFAULT_USER_AGENT, min_length=1, pattern=r"\S")
    connect_timeout: Seconds = 10.0
    read_timeout: Seconds = 20.0
    total_timeout: Seconds = 30.0
    max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=20)
    allow_private_networks: bool = False
    concurrency: int = Field(default=8, ge=1, le=256)
    per_host_concurrency: int = Field(default=2, ge=1, le=32)
    # A feed failing this many polls in a row is suspended until `monitor feeds resume` (0: never;
    # an HTTP 410 Gone suspends it at once).
    suspend_after_failures: int = Field(default=0, ge=0, le=100_000)
    # A changed feed's entries that its last body also held (byte for byte) are recognised
    # and not parsed again; false: every changed feed is parsed whole.
    incremental: bool = True


def _site_paths(paths: list[str], what: str) -> list[str]:
    """Paths on the source's site: each starts with '/', none twice."""
    for item in paths:
        if not item.startswith("/"):
            raise ValueError(f"{what} must start with '/': {item!r}")
    if len(set(paths)) != len(paths):
        raise ValueError(f"each {what} may appear only once")
    return paths


class CrawlConfig(Strict):
    """A source's spider: which listing pages it walks and how often."""

    listing_paths: list[str] = Field(min_length=1)
    interval: Seconds = Field(default=1800.0, ge=1)  # the scheduler counts whole seconds
    jitter: Seconds | None = None

    @field_validator("listing_paths")
    @classmethod
    def _paths(cls, v: list[str]) -> list[str]:
        return _site_paths(v, "listing path")

    @property
    def jitter_seconds(self) -> float:
        return self.jitter if self.jitter is not None else self.interval / 10


class BackfillConfig(Strict):
    """A source's history routes for `monitor backfill`: listing pages newest first, paginated."""

    paths: list[str] = Field(min_length=1)
    # Seconds between requests to this outlet while backfilling (AutoThrottle only slows down).
    download_delay: Seconds0 = 5.0

    @field_validator("paths")
    @classmethod
    def _paths(cls, v: list[str]) -> list[str]:
        return _site_paths(v, "backfill path")


class CrawlSettings(Strict):
    """How every spider behaves: politeness and caps (robots.txt and AutoThrottle are always on)."""

    download_delay: Seconds0 = 2.0
    per_domain_concurrency: int = Field(default=2, ge=1, le=2)
    max_page_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    timeout: Seconds = 900.0  # a crawl that takes longer is closed
    # An article page that takes longer to read (parse and extract) is refused and not fetched
    # again; the read runs off the event loop, so feed polls and the watchdog go on meanwhile.
    extract_timeout: Seconds = 20.0


@lru_cache(maxsize=256)
def _feed_urls(base_url: str, feeds: tuple[str, ...]) -> tuple[str, ...]:
    # Cached: the daemon asks for every feed of every source on each round and health check.
    return tuple(urljoin(base_url, f) for f in feeds)


class SourceConfig(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=40)
    name: str = Field(min_length=1)
    base_url: str
    enabled: bool = True
    poll_interval: Seconds = Field(default=900.0, ge=1)  # the scheduler counts whole seconds
    jitter: Seconds | None = None
    language: str = "en"
    feeds: list[str] = Field(default_factory=list)
    exclude_urls: list[str] = Field(default_factory=list)
    crawl: CrawlConfig | None = None
    backfill: BackfillConfig | None = None
    enrich: bool = False  # fetch the article page once for relevant feed entries with short text
    # A feed answering with a newest item older than this is stale; None: the source's rhythm.
    stale_after: Seconds | None = None

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        return check_http_url(v)

    @field_validator("feeds")
    @classmethod
    def _feeds(cls, v: list[str]) -> list[str]:
        for item in v:
            if "://" in item:
                check_http_url(item)
            elif not item.startswith("/"):
                raise ValueError(
                    f"feed must be an absolute URL or a path starting with '/': {item!r}"
                )
        return v

    @field_validator("exclude_urls")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        return v

    @property
    def feed_urls(self) -> list[str]:
        return list(_feed_urls(self.base_url, tuple(self.feeds)))

    @property
    def jitter_seconds(self) -> float:
        return self.jitter if self.jitter is not None else self.poll_interval / 10


class RelevanceConfig(Strict):
    """The two sides and the words the relevance model reads (monitor/judge/relevance.py)."""

    near_words: int = Field(default=40, ge=1, le=1000)
    india: list[Term] = Field(min_length=1)
    japan: list[Term] = Field(min_length=1)
    bilateral: list[Term] = Field(default_factory=list)
    # Everything below is optional: without it the model still reads sides and bilateral terms.
    others: list[Term] = Field(default_factory=list)  # other countries, capitals and blocs
    false_friends: list[Term] = Field(default_factory=list)  # "Indian Ocean": not the side
    # term → words that, in the same sentence, make a side term mean something else
    false_friend_contexts: dict[Term, list[Term]] = Field(default_factory=dict)
    relation: list[Term] = Field(default_factory=list)  # verbs and nouns linking two actors
    descriptors: list[Term] = Field(default_factory=list)  # "a subsidiary of": a label
    comparison: list[Term] = Field(default_factory=list)  # "overtakes", "unlike", "than"
    lists: list[Term] = Field(default_factory=list)  # "among", "including", "ranked"
    sport: list[Term] = Field(default_factory=list)  # "beat", "semifinal", "tournament"

    @field_validator(
        "india", "japan", "bilateral", "others", "false_friends", "relation", "descriptors",
        "comparison", "lists", "sport",
    )  # fmt: skip
    @classmethod
    def _terms(cls, v: list[str]) -> list[str]:
        return [check_term(t) for t in v]

    @field_validator("false_friend_contexts")
    @classmethod
    def _contexts(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        return {check_term(k): [check_term(t) for t in terms] for k, terms in v.items()}


class SectorConfig(Strict):
    label: str = Field(min_length=1)
    terms: list[Term] = Field(min_length=1)
    # phrases that contain a term but mean something else ("potato chips", "blue chip")
    false_friends: list[Term] = Field(default_factory=list)
    # words that, in the same sentence, mean a term is used in another sense ("snack", "crisps")
    not_with: list[Term] = Field(default_factory=list)

    @field_validator("terms", "false_friends", "not_with")
    @classmethod
    def _terms(cls, v: list[str]) -> list[str]:
        return [check_term(t) for t in v]


def is_loopback_host(host: str) -> bool:
    """Whether a metrics host stays on this machine: localhost or a loopback IP literal."""
    name = host.strip().lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # another host name: where it resolves is not known at config time


class MetricsConfig(Strict):
    """The Prometheus /metrics and /healthz endpoint: off by default, this machine only."""

    enabled: bool = False
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=9464, ge=0, le=65535)  # 0: any free port (the log line names it)
    allow_remote: bool = False  # needed for any host that is not loopback

    @field_validator("host")
    @classmethod
    def _no_brackets(cls, v: str) -> str:
        # "[::1]" is how URLs write an IPv6 address; the socket wants "::1".
        return v.strip().removeprefix("[").removesuffix("]")

    @model_validator(mode="after")
    def _loopback_only(self) -> MetricsConfig:
        # The endpoint has no authentication: exposing it must be a deliberate choice.
        if not self.allow_remote and not is_loopback_host(self.host):
            raise PathError(
                ("host",),
                f"{self.host!r} is not a loopback address; metrics are served to this machine "
                "only (127.0.0.1, ::1, localhost) unless metrics.allow_remote is true",
            )
        return self


class StoriesConfig(Strict):
    """Story clustering: how far apart in publication time and how alike two reports of one
    event are (monitor/judge/stories.py weighs shared names, figures, sector and wording)."""

    window: Seconds = 48 * 3600.0  # a story spans at most this from its first report
    join_at: float = Field(default=0.42, gt=0, le=1)  # evidence score that joins a story
    # Below join_at but at or above this (with two shared names): a new development, same thread.
    thread_at: float = Field(default=0.22, gt=0, le=1)
    # Names nearly every article of the topic carries ("India", "Tokyo"): no evidence of which
    # event it reports. Leaders, places and firms are evidence and stay out of this list.
    common_names: list[Term] = Field(default_factory=list)

    @model_validator(mode="after")
    def _order(self) -> StoriesConfig:
        if self.thread_at > self.join_at:
            raise PathError(("thread_at",), "must not be above join_at")
        return self


_TOKEN_PLACEHOLDER = r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$"


class WebConfig(Strict):
    """`monitor web`: the read-only analyst view, this machine only unless allowed with a token."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8765, ge=0, le=65535)  # 0: any free port (the log line names it)
    allow_remote: bool = False  # needed for any host that is not loopback; then a token too
    # A ${VAR} placeholder, never the secret itself: its value comes from the environment or
    # alerts.credentials_file. When set, every request must carry it (Bearer or Basic password).
    token: str | None = Field(default=None, pattern=_TOKEN_PLACEHOLDER)

    @field_validator("host")
    @classmethod
    def _no_brackets(cls, v: str) -> str:
        return v.strip().removeprefix("[").removesuffix("]")

    @model_validator(mode="after")
    def _loopback_or_token(self) -> WebConfig:
        # The same rule as metrics: leaving this machine is a deliberate choice, and for a view
        # of the whole database it also needs a token.
        if not self.allow_remote and not is_loopback_host(self.host):
            raise PathError(
                ("host",),
                f"{self.host!r} is not a loopback address; the web view is served to this "
                "machine only (127.0.0.1, ::1, localhost) unless web.allow_remote is true",
            )
        if self.allow_remote and self.token is None:
            raise PathError(
                ("token",),
                "web.allow_remote needs a token: token: ${MONITOR_WEB_TOKEN} (its value from "
                "the environment or alerts.credentials_file)",
            )
        return self


class DaemonSettings(Strict):
    """How `monitor run` shares one database with other daemons, and meets its schema."""

    # A daemon's hold on a source's poll or crawl (renewed while it runs): when it dies, other
    # daemons on the same PostgreSQL database take its sources this much later at the most.
    job_lease: Seconds = Field(default=60.0, ge=3)
    # Apply pending schema migrations at start instead of refusing to run (`monitor db upgrade`).
    auto_upgrade: bool = False


class Config(Strict):
    topic: TopicConfig = TopicConfig()
    daemon: DaemonSettings = DaemonSettings()
    fetch: FetchConfig = FetchConfig()
    crawl: CrawlSettings = CrawlSettings()
    alerts: AlertSettings = AlertSettings()
    metrics: MetricsConfig = MetricsConfig()
    stories: StoriesConfig = StoriesConfig()
    web: WebConfig = WebConfig()
    subscribers: list[SubscriberConfig] = Field(default_factory=list)
    sources: list[SourceConfig] = Field(min_length=1)
    relevance: RelevanceConfig
    sectors: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")], SectorConfig] = Field(
        min_length=1
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> Config:
        seen: set[str] = set()
        for i, src in enumerate(self.sources):
            if src.id in seen:
                raise PathError(("sources", i, "id"), f"duplicate source id {src.id!r}")
            seen.add(src.id)
        names: set[str] = set()
        for i, sub in enumerate(self.subscribers):
            if sub.name in names:
                raise PathError(("subscribers", i, "name"), f"duplicate subscriber {sub.name!r}")
            names.add(sub.name)
            rule_names: set[str] = set()
            for j, rule in enumerate(sub.rules):
                where = ("subscribers", i, "rules", j)
                if rule.name in rule_names:
                    raise PathError((*where, "name"), f"duplicate rule name {rule.name!r}")
                rule_names.add(rule.name)
                self._check_rule(sub.name, rule, where, seen)
        return self

    def _check_rule(
        self, subscriber: str, rule: RuleConfig, where: tuple[str | int, ...], sources: set[str]
    ) -> None:
        if rule.query is not None:
            try:
                rule._compiled = parse_query(rule.query)
            except RuleSyntaxError as exc:
                raise PathError(
                    (*where, "query"),
                    f"subscriber {subscriber!r}, rule {rule.name!r}: {exc} in {rule.query!r}",
                ) from None
        for k, sector in enumerate(rule.sectors):
            if sector not in self.sectors:
                raise PathError((*where, "sectors", k), f"unknown sector {sector!r}")
        for k, source in enumerate(rule.sources):
            if source not in sources:
                raise PathError((*where, "sources", k), f"unknown source {source!r}")

    def subscriber(self, name: str) -> SubscriberConfig:
        for sub in self.subscribers:
            if sub.name == name:
                return sub
        raise KeyError(name)

    def source(self, source_id: str) -> SourceConfig:
        for src in self.sources:
            if src.id == source_id:
                return src
        raise KeyError(source_id)
