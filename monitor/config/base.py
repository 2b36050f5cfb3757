"""What every section of feeds.yaml shares: strict frozen models, durations, terms, URLs.

Reads/writes: nothing.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from monitor import __version__

# Operators should add a contact (URL or e-mail) through fetch.user_agent.
DEFAULT_USER_AGENT = f"india-japan-monitor/{__version__} (news monitor; polite RSS polling)"

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class PathError(ValueError):
    """A cross-field error that knows which key it belongs to."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def duration(value: Any) -> Any:
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


Seconds = Annotated[float, BeforeValidator(duration), Field(gt=0)]
Seconds0 = Annotated[float, BeforeValidator(duration), Field(ge=0)]


def check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {value!r}")
    if "\\" in value or any(c.isspace() for c in value):
        raise ValueError(f"URL contains a backslash or whitespace: {value!r}")
    return value


def check_term(value: str) -> str:
    term = value.strip()
    if not term or term == "*":
        raise ValueError("empty term")
    if "*" in term[:-1]:
        raise ValueError(f"'*' is only allowed at the end of a term (prefix match): {value!r}")
    if not any(c.isalnum() for c in term):
        raise ValueError(f"term has no letters or digits: {value!r}")
    return term


Term = Annotated[str, Field(min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
