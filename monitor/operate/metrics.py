"""Process metrics (counters, gauges) and a loopback HTTP endpoint serving /metrics and /healthz.

Reads: increments from the daemon (any thread) and a health callback. Writes: Prometheus text
exposition format 0.0.4 over HTTP; nothing on disk.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

log = logging.getLogger("monitor.metrics")

Kind = Literal["counter", "gauge"]
LabelKey = tuple[tuple[str, str], ...]  # sorted (label name, value) pairs

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass
class _Family:
    kind: Kind
    help: str
    labels: tuple[str, ...] | None  # sorted label names; None until described or first used
    samples: dict[LabelKey, float] = field(default_factory=dict)


class Metrics:
    """A thread-safe registry of counters and gauges, rendered as Prometheus text.

    Misuse (a counter name without _total, inc on a gauge, a label set different from the one
    declared or first used) raises ValueError: these are programming errors, caught by tests.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._families: dict[str, _Family] = {}
        self._collectors: list[Callable[[Metrics], None]] = []

    def add_collector(self, collect: Callable[[Metrics], None]) -> None:
        """Call collect(self) before every render: for values that age, such as the time since
        the last heartbeat. It runs on the scraping thread or loop, so it must not block."""
        with self._lock:
            self._collectors.append(collect)

    def describe(
        self, name: str, help: str, kind: Kind, *, labels: Sequence[str] | None = None
    ) -> None:
        """Declare a metric's help text and kind (and optionally its label names)."""
        _check_name(name, kind)
        label_names = None if labels is None else _check_label_names(labels)
        with self._lock:
            family = self._families.get(name)
            if family is None:
                self._families[name] = _Family(kind, help, label_names)
                return
            if family.kind != kind:
                raise ValueError(f"metric {name} is a {family.kind}, not a {kind}")
            if label_names is not None:
                if family.labels is not None and family.labels != label_names:
                    raise ValueError(f"metric {name} has labels {family.labels}, not {label_names}")
                family.labels = label_names
            family.help = help

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        """Add value (finite, ≥ 0) to a counter; its name must end with _total."""
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"counter {name} can only grow by a finite amount ≥ 0, not {value}")
        with self._lock:
            family, key = self._sample(name, "counter", labels)
            family.samples[key] = family.samples.get(key, 0.0) + value

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a gauge to value."""
        with self._lock:
            family, key = self._sample(name, "gauge", labels)
            family.samples[key] = float(value)

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of one sample, or None if it was never set (for tests and status)."""
        key = tuple(sorted((k, str(v)) for k, v in labels.items()))
        with self._lock:
            family = self._families.get(name)
            return None if family is None else family.samples.get(key)

    def render(self) -> str:
        """Text exposition 0.0.4: families by name, samples by label values; HELP/TYPE for all."""
        with self._lock:
            collectors = list(self._collectors)
        for collect in collectors:
            collect(self)
        with self._lock:
            snapshot = [
                (name, f.kind, f.help, sorted(f.samples.items()))
                for name, f in sorted(self._families.items())
            ]
        lines: list[str] = []
        for name, kind, help_text, samples in snapshot:
            if help_text:
                lines.append(f"# HELP {name} {_escape_help(help_text)}")
            lines.append(f"# TYPE {name} {kind}")
            for key, val in samples:
                if key:
                    pairs = ",".join(f'{k}="{_escape_label(v)}"' for k, v in key)
                    lines.append(f"{name}{{{pairs}}} {_format_value(val)}")
                else:
                    lines.append(f"{name} {_format_value(val)}")
        return "\n".join(lines) + "\n" if lines else ""

    def _sample(self, name: str, kind: Kind, labels: dict[str, str]) -> tuple[_Family, LabelKey]:
        # Called with the lock held.
        family = self._families.get(name)
        if family is None:
            _check_name(name, kind)
            family = self._families[name] = _Family(kind, "", None)
        elif family.kind != kind:
            raise ValueError(f"metric {name} is a {family.kind}, not a {kind}")
        key = tuple(sorted((k, str(v)) for k, v in labels.items()))
        names = tuple(k for k, _ in key)
        if family.labels is None:
            family.labels = _check_label_names(names)
        elif family.labels != names:
            raise ValueError(f"metric {name} takes labels {family.labels}, got {names}")
        return family, key


def _check_name(name: str, kind: Kind) -> None:
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid metric name {name!r}")
    if kind == "counter" and not name.endswith("_total"):
        raise ValueError(f"counter name {name!r} must end with _total")
    if kind == "gauge" and name.endswith("_total"):
        raise ValueError(f"gauge name {name!r} must not end with _total")


def _check_label_names(labels: Sequence[str]) -> tuple[str, ...]:
    names = tuple(sorted(labels))
    for label in names:
        if not _LABEL_RE.match(label) or label.startswith("__"):
            raise ValueError(f"invalid label name {label!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate label names in {labels!r}")
    return names


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def default_metrics() -> Metrics:
    """A registry pre-described with the monitor's metrics (label names fixed)."""
    m = Metrics()
    m.describe(
        "monitor_polls_total",
        "Feed polls by source and outcome.",
        "counter",
        labels=("source", "outcome"),
    )
    m.describe(
        "monitor_fetch_errors_total",
        "Feed fetch errors by source and error kind.",
        "counter",
        labels=("source", "kind"),
    )
    m.describe(
        "monitor_articles_total",
        "Entries processed by source and result (new, duplicate, irrelevant, updated).",
        "counter",
        labels=("source", "result"),
    )
    m.describe(
        "monitor_crawls_total",
        "Spider runs by source and outcome.",
        "counter",
        labels=("source", "outcome"),
    )
    m.describe(
        "monitor_deliveries_total",
        "Alert delivery attempts by channel and result (sent, retry, failed).",
        "counter",
        labels=("channel", "result"),
    )
    m.describe(
        "monitor_deliveries_pending", "Alert deliveries waiting to be sent.", "gauge", labels=()
    )
    m.describe(
        "monitor_last_success_timestamp_seconds",
        "Unix time of the last successful poll or crawl, by source.",
        "gauge",
        labels=("source",),
    )
    m.describe(
        "monitor_source_state",
        "1 for the state `monitor status` gives the source (ok, failing, unreachable, blocked, "
        "extraction broken, stale, silent, ...), 0 for the others.",
        "gauge",
        labels=("source", "state"),
    )
    m.describe(
        "monitor_scheduler_lag_seconds",
        "How late the scheduler ran its last job, in seconds.",
        "gauge",
        labels=(),
    )
    m.describe(
        "monitor_scheduler_heartbeat_timestamp_seconds",
        "Unix time of the scheduler's last heartbeat.",
        "gauge",
        labels=(),
    )
    m.describe(
        "monitor_scheduler_heartbeat_age_seconds",
        "Seconds since the scheduler's last heartbeat (/healthz fails when it is stale).",
        "gauge",
        labels=(),
    )
    return m


METRICS: Metrics = default_metrics()


HealthCheck = Callable[[], tuple[bool, str]]


class MetricsServer:
    """GET/HEAD /metrics and /healthz on a loopback address; anything else is 404 (or 405).

    health() runs on the event loop for every /healthz request: it must be cheap and must not
    block (read in-memory state such as the scheduler heartbeat, not the database).
    """

    def __init__(
        self,
        metrics: Metrics,
        health: HealthCheck,
        host: str = "127.0.0.1",
        port: int = 9464,
        *,
        allow_remote: bool = False,
    ) -> None:
        self._metrics = metrics
        self._health = health
        self.host = host
        self.port = port
        self._allow_remote = allow_remote
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Bind and serve; returns the bound port. ValueError for a non-loopback host."""
        if self._runner is not None:
            raise RuntimeError("metrics server already started")
        sock = await self._bind()
        app = web.Application()
        app.router.add_get("/metrics", self._handle_metrics)
        app.router.add_get("/healthz", self._handle_healthz)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        try:
            await runner.setup()
            await web.SockSite(runner, sock).start()
        except BaseException:
            await runner.cleanup()
            sock.close()
            raise
        self._runner = runner
        self.port = sock.getsockname()[1]
        log.info("metrics server listening", extra={"host": self.host, "port": self.port})
        return self.port

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _bind(self) -> socket.socket:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        if not infos:
            raise ValueError(f"metrics host {self.host!r} does not resolve")
        if not self._allow_remote:
            for info in infos:
                address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
                if not address.is_loopback:
                    raise ValueError(
                        f"metrics host {self.host!r} is not a loopback address ({address}): "
                        "pass allow_remote=True to expose metrics beyond this machine"
                    )
        family, type_, proto, _, sockaddr = infos[0]
        sock = socket.socket(family, type_, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _handle_metrics(self, request: web.Request) -> web.Response:
        body = self._metrics.render().encode("utf-8")
        return web.Response(
            body=body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"}
        )

    async def _handle_healthz(self, request: web.Request) -> web.Response:
        try:
            ok, reason = self._health()
        except Exception as exc:
            log.exception("health check raised")
            ok, reason = False, f"health check raised {type(exc).__name__}"
        if ok:
            status, text = 200, "ok"
        else:
            # One line, no control characters: the reason may quote a feed's error message.
            text = "".join(c if c.isprintable() else " " for c in reason).strip() or "unhealthy"
            status = 503
        return web.Response(
            status=status,
            text=text + "\n",
            content_type="text/plain",
            headers={"Cache-Control": "no-store"},
        )
