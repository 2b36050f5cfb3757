"""Reads feeds.yaml into a validated Config; every mistake is reported with file, line and key path.

Reads: the YAML file. Writes: nothing.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor import __version__

# Operators should add a contact (URL or e-mail) through fetch.user_agent.
DEFAULT_USER_AGENT = f"india-japan-monitor/{__version__} (news monitor; polite RSS polling)"

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class ConfigError(Exception):
    """A feeds.yaml problem; str() is 'FILE:LINE: KEY.PATH: message', one problem per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _duration(value: Any) -> Any:
    """'15m' / '90s' / '1h' / '2d' / a number of seconds → seconds (float)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 15m, 1h")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(int(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError(f"expected a duration like 30s, 15m, 1h, got {value!r}")


Seconds = Annotated[float, BeforeValidator(_duration), Field(gt=0)]
Seconds0 = Annotated[float, BeforeValidator(_duration), Field(ge=0)]


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {value!r}")
    if "\\" in value or any(c.isspace() for c in value):
        raise ValueError(f"URL contains a backslash or whitespace: {value!r}")
    return value


def _check_term(value: str) -> str:
    term = value.strip()
    if not term or term == "*":
        raise ValueError("empty term")
    if "*" in term[:-1]:
        raise ValueError(f"'*' is only allowed at the end of a term (prefix match): {value!r}")
    if not any(c.isalnum() for c in term):
        raise ValueError(f"term has no letters or digits: {value!r}")
    return term


Term = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FetchConfig(_Strict):
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: Seconds = 10.0
    read_timeout: Seconds = 20.0
    total_timeout: Seconds = 30.0
    max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=20)
    allow_private_networks: bool = False
    concurrency: int = Field(default=8, ge=1, le=256)
    per_host_concurrency: int = Field(default=2, ge=1, le=32)


def _site_paths(paths: list[str], what: str) -> list[str]:
    """Paths on the source's site: each starts with '/', none twice."""
    for item in paths:
        if not item.startswith("/"):
            raise ValueError(f"{what} must start with '/': {item!r}")
    if len(set(paths)) != len(paths):
        raise ValueError(f"each {what} may appear only once")
    return paths


class CrawlConfig(_Strict):
    """A source's spider: which listing pages it walks and how often."""

    listing_paths: list[str] = Field(min_length=1)
    interval: Seconds = 1800.0
    jitter: Seconds | None = None

    @field_validator("listing_paths")
    @classmethod
    def _paths(cls, v: list[str]) -> list[str]:
        return _site_paths(v, "listing path")

    @property
    def jitter_seconds(self) -> float:
        return self.jitter if self.jitter is not None else self.interval / 10


class BackfillConfig(_Strict):
    """A source's history routes for `monitor backfill`: listing pages newest first, paginated."""

    paths: list[str] = Field(min_length=1)
    # Seconds between requests to this outlet while backfilling (AutoThrottle only slows down).
    download_delay: Seconds0 = 5.0

    @field_validator("paths")
    @classmethod
    def _paths(cls, v: list[str]) -> list[str]:
        return _site_paths(v, "backfill path")


class CrawlSettings(_Strict):
    """How every spider behaves: politeness and caps (robots.txt and AutoThrottle are always on)."""

    download_delay: Seconds0 = 2.0
    per_domain_concurrency: int = Field(default=2, ge=1, le=2)
    max_page_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    timeout: Seconds = 900.0  # a crawl that takes longer is closed


class SourceConfig(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=40)
    name: str = Field(min_length=1)
    base_url: str
    enabled: bool = True
    poll_interval: Seconds = 900.0
    jitter: Seconds | None = None
    language: str = "en"
    feeds: list[str] = Field(default_factory=list)
    exclude_urls: list[str] = Field(default_factory=list)
    crawl: CrawlConfig | None = None
    backfill: BackfillConfig | None = None
    enrich: bool = False  # fetch the article page once for relevant feed entries with short text

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        return _check_http_url(v)

    @field_validator("feeds")
    @classmethod
    def _feeds(cls, v: list[str]) -> list[str]:
        for item in v:
            if "://" in item:
                _check_http_url(item)
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
        return [urljoin(self.base_url, f) for f in self.feeds]

    @property
    def jitter_seconds(self) -> float:
        return self.jitter if self.jitter is not None else self.poll_interval / 10


class RelevanceConfig(_Strict):
    near_words: int = Field(default=40, ge=1, le=1000)
    india: list[Term] = Field(min_length=1)
    japan: list[Term] = Field(min_length=1)
    bilateral: list[Term] = Field(default_factory=list)

    @field_validator("india", "japan", "bilateral")
    @classmethod
    def _terms(cls, v: list[str]) -> list[str]:
        return [_check_term(t) for t in v]


class SectorConfig(_Strict):
    label: str = Field(min_length=1)
    terms: list[Term] = Field(min_length=1)

    @field_validator("terms")
    @classmethod
    def _terms(cls, v: list[str]) -> list[str]:
        return [_check_term(t) for t in v]


_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _check_clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError(f"expected a local time like 08:00, got {value!r}")
    return value


class RuleConfig(_Strict):
    """One keyword rule of a subscriber: a query plus optional filters."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=60)
    query: str | None = None
    sectors: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    min_relevance: float = Field(default=0.0, ge=0.0, le=1.0)


class SubscriberConfig(_Strict):
    """Someone who receives alerts: Apprise URLs (secrets as ${VAR}), timing and rules."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=60)
    urls: list[str] = Field(min_length=1)
    timezone: str = "UTC"
    mode: Literal["immediate", "digest"] = "immediate"
    digest: Literal["hourly", "daily"] = "daily"
    digest_at: str = "08:00"
    quiet_hours: str | None = None  # "22:00-07:00" in the subscriber's time zone
    rules: list[RuleConfig] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r} (use e.g. Asia/Kolkata, Asia/Tokyo)"
            ) from None
        return v

    @field_validator("digest_at")
    @classmethod
    def _digest_at(cls, v: str) -> str:
        return _check_clock(v)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str | None) -> str | None:
        if v is None:
            return v
        start, sep, end = v.partition("-")
        if not sep:
            raise ValueError(f"expected quiet hours like 22:00-07:00, got {v!r}")
        _check_clock(start.strip())
        _check_clock(end.strip())
        return v

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if "://" not in url:
                raise ValueError(f"not an Apprise URL (scheme://...): {url[:20]!r}...")
        return v


class AlertSettings(_Strict):
    """Delivery policy shared by all subscribers."""

    operator: list[str] = Field(default_factory=list)  # Apprise URLs told about failures
    credentials_file: str | None = None  # KEY=VALUE lines for ${VAR} placeholders
    max_attempts: int = Field(default=6, ge=1, le=50)
    retry_delay: Seconds = 60.0  # first retry; doubles each attempt
    max_age: Seconds = 48 * 3600.0  # older articles never alert immediately
    fold_threshold: int = Field(default=5, ge=1)  # more matches than this in a cycle: one message
    dispatch_interval: Seconds = 30.0


def is_loopback_host(host: str) -> bool:
    """Whether a metrics host stays on this machine: localhost or a loopback IP literal."""
    name = host.strip().lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # another host name: where it resolves is not known at config time


class MetricsConfig(_Strict):
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
            raise _PathError(
                ("host",),
                f"{self.host!r} is not a loopback address; metrics are served to this machine "
                "only (127.0.0.1, ::1, localhost) unless metrics.allow_remote is true",
            )
        return self


class Config(_Strict):
    fetch: FetchConfig = FetchConfig()
    crawl: CrawlSettings = CrawlSettings()
    alerts: AlertSettings = AlertSettings()
    metrics: MetricsConfig = MetricsConfig()
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
                raise _PathError(("sources", i, "id"), f"duplicate source id {src.id!r}")
            seen.add(src.id)
        names: set[str] = set()
        for i, sub in enumerate(self.subscribers):
            if sub.name in names:
                raise _PathError(("subscribers", i, "name"), f"duplicate subscriber {sub.name!r}")
            names.add(sub.name)
            rule_names: set[str] = set()
            for j, rule in enumerate(sub.rules):
                where = ("subscribers", i, "rules", j)
                if rule.name in rule_names:
                    raise _PathError((*where, "name"), f"duplicate rule name {rule.name!r}")
                rule_names.add(rule.name)
                self._check_rule(sub.name, rule, where, seen)
        return self

    def _check_rule(
        self, subscriber: str, rule: RuleConfig, where: tuple[str | int, ...], sources: set[str]
    ) -> None:
        from monitor.judge.rules import RuleSyntaxError, parse_query

        if rule.query is not None:
            try:
                parse_query(rule.query)
            except RuleSyntaxError as exc:
                raise _PathError(
                    (*where, "query"),
                    f"subscriber {subscriber!r}, rule {rule.name!r}: {exc} in {rule.query!r}",
                ) from None
        for k, sector in enumerate(rule.sectors):
            if sector not in self.sectors:
                raise _PathError((*where, "sectors", k), f"unknown sector {sector!r}")
        for k, source in enumerate(rule.sources):
            if source not in sources:
                raise _PathError((*where, "sources", k), f"unknown source {source!r}")

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


class _PathError(ValueError):
    """A cross-field error that knows which key it belongs to."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    path: Path
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict, compare=False)

    def where(self, *key: str | int) -> str:
        """'FILE:LINE: key.path' for a key of the file, for problems found after loading."""
        return f"{self.path}:{_line_for(key, self.lines)}: {format_path(key)}"


# --- YAML with line numbers -------------------------------------------------------------


def _construct(
    node: yaml.Node, path: tuple[str | int, ...], lines: dict[Any, int], loader: yaml.SafeLoader
) -> Any:
    """Build plain Python values from YAML nodes, remembering the line of every key path."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, str | int):
                raise _YamlProblem(key_node.start_mark.line + 1, path, "keys must be strings")
            if key in out:
                raise _YamlProblem(
                    key_node.start_mark.line + 1, (*path, key), f"duplicate key {key!r}"
                )
            out[key] = _construct(value_node, (*path, key), lines, loader)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(child, (*path, i), lines, loader) for i, child in enumerate(node.value)]
    return loader.construct_object(node)


class _YamlProblem(Exception):
    def __init__(self, line: int, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.line = line
        self.path = path


def format_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _line_for(path: tuple[str | int, ...], lines: dict[Any, int]) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def load_config(path: str | Path) -> LoadedConfig:
    """Parse and validate feeds.yaml; raise ConfigError listing every problem with its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{path}:{line}: invalid YAML: {problem}"]) from None
    if root is None:
        raise ConfigError([f"{path}:1: the file is empty"])
    lines: dict[Any, int] = {}
    try:
        data = _construct(root, (), lines, yaml.SafeLoader(""))
    except _YamlProblem as exc:
        raise ConfigError([f"{path}:{exc.line}: {format_path(exc.path)}: {exc}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: expected a mapping with sources, relevance and sectors"])
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, lines)) from None
    return LoadedConfig(config=config, path=path, lines=lines)


def _describe(exc: ValidationError, path: Path, lines: dict[Any, int]) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _PathError):
            loc = loc + ctx_error.loc
            message = str(ctx_error)
        elif err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        else:
            message = err["msg"].removeprefix("Value error, ")
            if err["type"].endswith("_type") and "input" in err:
                message += f" (got {type(err['input']).__name__} {err['input']!r})"
        problems.append(f"{path}:{_line_for(loc, lines)}: {format_path(loc)}: {message}")
    return problems
