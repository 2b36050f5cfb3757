"""Hands memory freed after a poll round back to the operating system.

Reads/writes: nothing but the process's heap. A round that parsed large feeds leaves the C heap
holding freed pages; glibc keeps them unless asked, so a daemon would stay at its busiest
round's size for months. malloc_trim(0) returns them (a few milliseconds); elsewhere a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None
    return trim


def release() -> None:
    """Give the freed heap back to the OS where the C library can."""
    trim = _trim()
    if trim is not None:
        trim(0)
