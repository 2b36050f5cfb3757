"""What every handler of the web view shares: the config, the read-only database, the clock.

Reads/writes: nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from monitor.clock import Clock
from monitor.config import Config
from storage.db import Database


@dataclass(frozen=True)
class State:
    config: Config
    db: Database
    now: Clock
    token: str | None  # the value every request must carry, when web.token is set

    def sector_label(self, name: str) -> str:
        sector = self.config.sectors.get(name)
        return sector.label if sector is not None else name


STATE = web.AppKey("state", State)


def state(request: web.Request) -> State:
    return request.app[STATE]
