"""One round now (`monitor poll`): every selected source's feeds, then the alerts that are due.

Reads: the App's sources and outbox. Writes: through the flow (articles, state) and the
dispatcher (deliveries).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from monitor.app import App
from monitor.config import SourceConfig
from monitor.deliver.dispatch import DispatchReport
from monitor.flow import refresh_source
from monitor.operate.health import collection_state
from monitor.reports import SourceReport


@dataclass
class PollResult:
    reports: list[SourceReport]
    skipped: dict[str, str] = field(default_factory=dict)  # source id → how it is collected
    alerts: DispatchReport | None = None  # None when nobody subscribes


async def poll_once(app: App, sources: list[SourceConfig]) -> PollResult:
    polled = [s for s in sources if s.feeds]
    result = PollResult(
        list(await asyncio.gather(*(refresh_source(app, s, force=True) for s in polled))),
        {s.id: collection_state(s) for s in sources if not s.feeds},
    )
    if app.config.subscribers:
        # Alerts for what this poll stored go out now, as the daemon would send them.
        result.alerts = await app.dispatcher.run_once()
    return result
