"""GET over loopback HTTP as a browser or feed reader sends it; the answer whole.

Reads: a running `monitor web`. Writes: nothing.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    text: str


def get(url: str, headers: dict[str, str] | None = None) -> Answer:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return Answer(resp.status, resp.headers, resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers, exc.read().decode("utf-8"))
