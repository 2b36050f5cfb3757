"""The one clock: every component takes `now: Clock` so tests and benches can inject time.

Reads: the system's wall clock (utcnow). Writes: nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Aware UTC now: the default Clock."""
    return datetime.now(UTC)
