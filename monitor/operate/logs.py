"""Logging: one line per event as key=value (or JSON), to stderr for journald.

Reads: log records, and the secret values registered with add_secrets(). Writes: stderr.
Every value (message, fields, traceback) passes one choke point, _clean(): secrets are redacted
(URL passwords, Telegram bot tokens, secret query parameters, registered credential values),
then anything that could end or disguise a line is escaped, so a feed title cannot forge a
second log line, in key=value or in JSON.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

MIN_SECRET = 6  # shorter registered values are not redacted: they would blank ordinary words

_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@\"']*):[^\s/@\"']*@")
_TELEGRAM_URL = re.compile(r"(?i)\btgrams?://[^\s/\"'?]+")
_BOT_PATH = re.compile(r"(?i)/bot\d+:[A-Za-z0-9_-]+")  # Bot API URLs carry the token in the path
_SECRET_PARAM = re.compile(
    r"(?i)([?&](?:pass|password|pwd|token|secret|key|apikey|api_key|access_token|auth|"
    r"bot_token|webhook)=)[^&\s\"']*"
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def add_secrets(values: Iterable[str]) -> None:
    """Values never to be logged (credentials filled into ${VAR} placeholders)."""
    fresh = {v for v in values if len(v) >= MIN_SECRET}
    with _secrets_lock:
        _secrets.update(fresh)


def redact_text(text: str) -> str:
    """Text with passwords, tokens and registered secret values replaced by ***."""
    text = _URL_PASSWORD.sub(r"\1:***@", text)
    text = _TELEGRAM_URL.sub(lambda m: m.group(0).split("://", 1)[0] + "://***", text)
    text = _BOT_PATH.sub("/bot***", text)
    text = _SECRET_PARAM.sub(r"\1***", text)
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)  # longest first: no partial leftovers
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _escape_unprintable(text: str) -> str:
    # json.dumps escapes only U+0000–U+001F; NEL (U+0085), U+2028/U+2029 and the other C1 and
    # format characters still break lines or reorder text in some viewers and in splitlines().
    return "".join(c if c.isprintable() or c == " " else _json_escape(c) for c in text)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # outside the BMP: a UTF-16 surrogate pair, as JSON requires
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _clean(value: Any) -> str:
    return redact_text(str(value))


def _quote(value: Any) -> str:
    text = _clean(value)
    if text and all(c.isalnum() or c in "-_./:@+%,*" for c in text) and text.isascii():
        return text
    # json.dumps escapes quotes, backslashes and C0 controls (\n, \r, ESC ...); the rest here.
    return _escape_unprintable(json.dumps(text, ensure_ascii=False))


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={_quote(record.getMessage())}",
        ]
        parts += [f"{k}={_quote(v)}" for k, v in _fields(record).items()]
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _clean(record.getMessage()),
        }
        data.update({k: _clean(v) for k, v in _fields(record).items()})
        if record.exc_info:
            data["exc"] = _clean(self.formatException(record.exc_info))
        # \\uXXXX escapes are valid JSON: a parser gets the original characters back.
        return _escape_unprintable(json.dumps(data, ensure_ascii=False))


def setup_logging(level: str = "INFO", fmt: str = "kv") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries are chatty at INFO; their warnings still come through.
    for name in ("apscheduler", "scrapy", "aiohttp", "asyncio"):
        logging.getLogger(name).setLevel(logging.WARNING)
