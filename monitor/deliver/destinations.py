"""Destinations: Apprise URL templates, the ${VAR} secrets filled into them, and redaction.

Reads: URL templates, the environment and alerts.credentials_file. Writes: nothing; registers
the secret values with the log formatter so no log line prints them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from monitor.collect.plaintext import one_line
from monitor.config import Config
from monitor.operate.logs import add_secrets

_EMAIL_SCHEMES = {"mailto", "mailtos"}
_TELEGRAM_SCHEMES = {"tgram"}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_PARAMS = {
    "pass",
    "password",
    "pwd",
    "token",
    "secret",
    "key",
    "apikey",
    "api_key",
    "access_token",
    "auth",
    "bot_token",
    "webhook",
    "pgpprv",
}


class SecretMissing(Exception):
    """A ${NAME} placeholder in a destination URL has no value; nothing is sent."""

    def __init__(self, name: str) -> None:
        super().__init__(f"secret ${{{name}}} is not set (environment or credentials file)")
        self.name = name


def expand(url: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    used: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        value = env.get(name)
        if not value:
            raise SecretMissing(name)
        used.append(value)
        # Percent-encode so a password holding "@", "/" or "?" cannot change the URL's shape;
        # ":" stays literal because Telegram bot tokens contain one.
        return quote(value, safe=":")

    return _PLACEHOLDER.sub(replace, url), used


def placeholders(url: str) -> list[str]:
    """The ${NAME} placeholder names a URL template uses."""
    return _PLACEHOLDER.findall(url)


def load_credentials(path: Path | None) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments ignored; optional quotes and `export `)."""
    if path is None:
        return {}
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _ENV_KEY.match(key):
            # The line may hold a secret: name the place, never the content.
            raise ValueError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def scheme_of(url: str) -> str:
    head, sep, _ = url.partition("://")
    return head.strip().lower() if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", head) else ""


def channel_of(url: str) -> str:
    """Channel of a destination URL: email, telegram, or its scheme ("unknown" without one)."""
    scheme = scheme_of(url)
    if scheme in _EMAIL_SCHEMES:
        return "email"
    if scheme in _TELEGRAM_SCHEMES:
        return "telegram"
    return scheme or "unknown"


def _redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    shown = [(k, "***" if k.lower().lstrip("+-:") in _SECRET_PARAMS else v) for k, v in pairs]
    return urlencode(shown, safe="@:/,${}*")


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=":"), quote(secret, safe="")}:
            text = text.replace(form, "***")
    return text


def redact(url: str, secrets: Iterable[str] = ()) -> str:
    """The URL with passwords, tokens and the given secret values hidden; safe to log.

    mailto(s)://user:***@host..., tgram://***/chat_id; any other scheme shows only "scheme://***".
    """
    try:
        scheme = scheme_of(url)
        if scheme in _EMAIL_SCHEMES:
            parts = urlsplit(url.strip())
            netloc = parts.netloc
            if "@" in netloc:
                userinfo, host = netloc.rsplit("@", 1)
                user = userinfo.split(":", 1)[0]
                netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
            shown = urlunsplit((scheme, netloc, parts.path, _redact_query(parts.query), ""))
        elif scheme in _TELEGRAM_SCHEMES:
            parts = urlsplit(url.strip())
            shown = urlunsplit((scheme, "***", parts.path, _redact_query(parts.query), ""))
        else:
            return f"{scheme}://***" if scheme else "***"
        return one_line(scrub(shown, secrets))
    except Exception:  # never let logging a URL fail
        return "***"


def url_secrets(url: str) -> list[str]:
    """Secrets written inline in an expanded URL: bot token, password, secret query values."""
    found: list[str] = []
    try:
        parts = urlsplit(url.strip())
        if scheme_of(url) in _TELEGRAM_SCHEMES:
            found.append(parts.netloc)
        elif "@" in parts.netloc:
            userinfo = parts.netloc.rsplit("@", 1)[0]
            if ":" in userinfo:
                found.append(userinfo.split(":", 1)[1])
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key.lower().lstrip("+-:") in _SECRET_PARAMS:
                found.append(value)
    except ValueError:
        pass
    return [s for s in found if s] + [unquote(s) for s in found if s and unquote(s) != s]


def with_param(url: str, key: str, value: str) -> str:
    parts = urlsplit(url)
    if any(k.lower() == key for k, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return url
    query = f"{parts.query}&{key}={value}" if parts.query else f"{key}={value}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def secret_environment(config: Config) -> dict[str, str]:
    """Values for ${VAR} placeholders: the environment, overlaid by alerts.credentials_file.

    The values the configured URLs use (and everything in the credentials file) are registered
    with the log formatter, which then never prints them.
    """
    path = config.alerts.credentials_file
    credentials = load_credentials(Path(path) if path else None)
    env = {**os.environ, **credentials}
    templates = [u for s in config.subscribers for u in s.urls] + config.alerts.operator
    used = {name for url in templates for name in placeholders(url)}
    values = [*credentials.values(), *(env[name] for name in used if name in env)]
    # Expanded URLs carry the values percent-encoded (expand): hide both forms.
    add_secrets([*values, *(quote(v, safe=":") for v in values)])
    return env
