"""Alert rendering and delivery: one message, one destination, one Apprise object per send.

Reads: items, Apprise URL templates, secrets. Writes: email (SMTP) and Telegram messages.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import html
import importlib
import logging
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from monitor.collect.plaintext import clean_text, one_line

log = logging.getLogger("monitor.notify")

TITLE_MAX = 250
TEXT_MAX = 4000  # Telegram allows 4096 characters after entity parsing
HTML_SUMMARY_MAX = 2000  # per item in a single alert; digests use DIGEST_SUMMARY_MAX
DIGEST_SUMMARY_MAX = 300
URL_MAX = 2000
CONNECT_TIMEOUT = 10  # seconds, for HTTP-based plugins (Apprise's `cto=`)
TELEGRAM_API_ENV = "MONITOR_TELEGRAM_API"
MESSAGE_ID_DOMAIN = "india-japan-monitor@localhost"
APP_ID = "India-Japan News Monitor"

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
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://(?:[^\s'\"]*[^\s'\".,;:)])?")
_HTTP_ERROR = re.compile(r"error=(\d{3})\b")
_SMTP_PERMANENT = re.compile(r"(?:\(|refused: )(5\d\d)\b")


class SecretMissing(Exception):
    """A ${NAME} placeholder in a destination URL has no value; nothing is sent."""

    def __init__(self, name: str) -> None:
        super().__init__(f"secret ${{{name}}} is not set (environment or credentials file)")
        self.name = name


@dataclass(frozen=True)
class Item:
    """One article as an alert shows it; every field is untrusted text from the web."""

    source_name: str
    title: str
    url: str
    published_at: datetime
    sectors: list[str]
    why: list[str]  # human "why it matched" lines
    summary: str
    other_outlets: list[str] = field(default_factory=list)  # digests: outlets with the same story


@dataclass(frozen=True)
class Message:
    title: str  # one line, no CR/LF, <= TITLE_MAX characters
    text: str  # plain text body (Telegram), <= TEXT_MAX characters, headline first
    html: str  # HTML body (email); every web-supplied string escaped, links only http(s)
    message_id: str  # deterministic, e.g. "<delivery-42.india-japan-monitor@localhost>"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None  # one line, secrets redacted
    permanent: bool  # retrying cannot fix it (bad markup 400, unknown scheme, missing secret)


# --- rendering ---------------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def _line(text: str, limit: int = 500) -> str:
    return _clip(one_line(text), limit)


def _safe_link(url: str) -> str | None:
    """The URL if it is a plain http(s) link, else None (no javascript:, data:, spaces…)."""
    url = url.strip()
    if not url or len(url) > URL_MAX or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return url


def _local_time(when: datetime, tz: ZoneInfo) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def message_id_for(delivery_key: str) -> str:
    """Deterministic Message-ID for a delivery key, e.g. "delivery-42"."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", delivery_key)[:120].strip(".-") or "delivery"
    if safe != delivery_key:  # keep distinct keys distinct after cleaning
        safe += "-" + hashlib.sha256(delivery_key.encode("utf-8")).hexdigest()[:8]
    return f"<{safe}.{MESSAGE_ID_DOMAIN}>"


def _ref(delivery_key: str) -> str:
    return "ref: " + _line(delivery_key, 120)


def _fit_text(head: str, middle: str, tail: str) -> str:
    """head + middle + tail in at most TEXT_MAX characters; the middle is shortened first."""
    room = TEXT_MAX - len(head) - len(tail)
    if room < len(middle):
        middle = _clip(middle, max(room, 0)) if room > 1 else ""
    return _clip(head + middle + tail, TEXT_MAX)


def _item_lines(item: Item, tz: ZoneInfo) -> tuple[str, str, list[str]]:
    """(title, "source · time", detail lines) of an item, all plain single lines."""
    title = _line(item.title) or "(untitled)"
    meta = f"{_line(item.source_name, 100)} · {_local_time(item.published_at, tz)}"
    details: list[str] = []
    sectors, why, others = _lists(item)
    if sectors:
        details.append("Sectors: " + ", ".join(sectors))
    if why:
        details.append("Why: " + why[0])
        details += ["     " + w for w in why[1:]]
    if others:
        details.append("Also in: " + ", ".join(others))
    return title, meta, details


def _lists(item: Item) -> tuple[list[str], list[str], list[str]]:
    """Sectors, why-lines and other outlets as clean single lines, bounded in number."""
    sectors = [s for s in (_line(s, 80) for s in item.sectors[:20]) if s]
    why = [w for w in (_line(w, 300) for w in item.why[:10]) if w]
    others = [o for o in (_line(o, 100) for o in item.other_outlets[:20]) if o]
    return sectors, why, others


def _item_html(item: Item, tz: ZoneInfo, summary_max: int, heading_tag: str) -> str:
    e = html.escape
    title, meta, _ = _item_lines(item, tz)
    sectors, why, others = _lists(item)
    link = _safe_link(item.url)
    head = f'<a href="{e(link, quote=True)}">{e(title)}</a>' if link else e(title)
    parts = [f"<{heading_tag}>{head}</{heading_tag}>", f"<p><small>{e(meta)}</small></p>"]
    if sectors:
        parts.append(f"<p><b>Sectors:</b> {e(', '.join(sectors))}</p>")
    if why:
        rows = "".join(f"<li>{e(w)}</li>" for w in why)
        parts.append(f"<p><b>Why it matched:</b></p><ul>{rows}</ul>")
    summary = _clip(clean_text(item.summary), summary_max)
    if summary:
        paras = "".join(f"<p>{e(p)}</p>" for p in summary.split("\n") if p.strip())
        parts.append(paras)
    if others:
        parts.append(f"<p><b>Also in:</b> {e(', '.join(others))}</p>")
    if link:
        parts.append(f'<p><a href="{e(link, quote=True)}">{e(_clip(link, 200))}</a></p>')
    return "\n".join(parts)


def _page(title: str, body: str, delivery_key: str) -> str:
    e = html.escape
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{e(title)}</title></head><body>\n{body}\n"
        f"<hr><p><small>India–Japan News Monitor · {e(_ref(delivery_key))}</small></p>"
        "</body></html>"
    )


def render_single(item: Item, tz: ZoneInfo, delivery_key: str) -> Message:
    """One article as one alert; times in the subscriber's zone."""
    title, meta, details = _item_lines(item, tz)
    source = " — " + _line(item.source_name, 60)
    subject = _clip(title, TITLE_MAX - len(source)) + source
    link = _safe_link(item.url)
    head = "\n".join([title, meta, *details]) + "\n\n"
    summary = clean_text(item.summary)
    tail = ("\n\n" + link if link else "") + "\n" + _ref(delivery_key)
    text = _fit_text(head, summary, tail)
    body = _item_html(item, tz, HTML_SUMMARY_MAX, "h2")
    return Message(subject, text, _page(subject, body, delivery_key), message_id_for(delivery_key))


def render_digest(items: list[Item], tz: ZoneInfo, delivery_key: str, heading: str) -> Message:
    """Many items in one message (digests, folded "N new matches" alerts).

    The email lists every item; the Telegram text lists as many as fit in TEXT_MAX and says how
    many more there are.
    """
    subject = _clip(_line(heading) or f"{len(items)} India–Japan stories", TITLE_MAX)
    tail = "\n" + _ref(delivery_key)
    blocks: list[str] = []
    used = len(subject) + 2 + len(tail)
    for number, item in enumerate(items, 1):
        title, meta, details = _item_lines(item, tz)
        link = _safe_link(item.url)
        lines = [f"{number}. {title}", f"   {meta}", *("   " + d for d in details)]
        if link:
            lines.append("   " + _clip(link, 500))
        block = "\n".join(lines) + "\n\n"
        more = f"… and {len(items) - number + 1} more (see the email digest)\n"
        if used + len(block) + len(more) > TEXT_MAX:
            blocks.append(more)
            break
        blocks.append(block)
        used += len(block)
    text = _clip(subject + "\n\n" + "".join(blocks).rstrip("\n") + "\n" + tail, TEXT_MAX)
    body = "\n<hr>\n".join(_item_html(item, tz, DIGEST_SUMMARY_MAX, "h3") for item in items)
    page = _page(subject, f"<h2>{html.escape(subject)}</h2>\n{body}", delivery_key)
    return Message(subject, text, page, message_id_for(delivery_key))


def render_test(subscriber: str, delivery_key: str) -> Message:
    """A test alert proving a destination works (`monitor alerts test`)."""
    name = _line(subscriber, 100)
    subject = _clip(f"India–Japan monitor: test alert for {name}", TITLE_MAX)
    sentence = f"This is a test alert for subscriber {name}. If you can read it, delivery works."
    text = f"{subject}\n\n{sentence}\n{_ref(delivery_key)}"
    page = _page(subject, f"<p>{html.escape(sentence)}</p>", delivery_key)
    return Message(subject, _clip(text, TEXT_MAX), page, message_id_for(delivery_key))


def render_notice(title: str, body: str) -> Message:
    """An operator notice (e.g. a destination failing for good); the key derives from the text."""
    subject = _clip("[monitor] " + _line(title), TITLE_MAX)
    detail = clean_text(body)
    key = "notice-" + hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()[:16]
    text = _fit_text(subject + "\n\n", detail, "\n" + _ref(key))
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in _clip(detail, 8000).split("\n") if p)
    return Message(subject, text, _page(subject, paras, key), message_id_for(key))


# --- secrets and URLs --------------------------------------------------------------------------


def _expand(url: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
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


def expand_secrets(url: str, env: Mapping[str, str]) -> str:
    """Replace ${NAME} placeholders from env (values percent-encoded); missing/empty NAME raises.

    Only destination URLs are expanded, never message text.
    """
    return _expand(url, env)[0]


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


def _scheme(url: str) -> str:
    head, sep, _ = url.partition("://")
    return head.strip().lower() if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", head) else ""


def channel_of(url: str) -> str:
    """Channel of a destination URL: email, telegram, or its scheme ("unknown" without one)."""
    scheme = _scheme(url)
    if scheme in _EMAIL_SCHEMES:
        return "email"
    if scheme in _TELEGRAM_SCHEMES:
        return "telegram"
    return scheme or "unknown"


def _redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    shown = [(k, "***" if k.lower().lstrip("+-:") in _SECRET_PARAMS else v) for k, v in pairs]
    return urlencode(shown, safe="@:/,${}*")


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=":"), quote(secret, safe="")}:
            text = text.replace(form, "***")
    return text


def redact(url: str, secrets: Iterable[str] = ()) -> str:
    """The URL with passwords, tokens and the given secret values hidden; safe to log.

    mailto(s)://user:***@host..., tgram://***/chat_id; any other scheme shows only "scheme://***".
    """
    try:
        scheme = _scheme(url)
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
        return one_line(_scrub(shown, secrets))
    except Exception:  # never let logging a URL fail
        return "***"


def _url_secrets(url: str) -> list[str]:
    """Secrets written inline in an expanded URL: bot token, password, secret query values."""
    found: list[str] = []
    try:
        parts = urlsplit(url.strip())
        if _scheme(url) in _TELEGRAM_SCHEMES:
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


def _with_param(url: str, key: str, value: str) -> str:
    parts = urlsplit(url)
    if any(k.lower() == key for k, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return url
    query = f"{parts.query}&{key}={value}" if parts.query else f"{key}={value}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


# --- sending -----------------------------------------------------------------------------------
#
# Apprise is prepared once per process (_prepare_apprise):
# - Message-ID: the email plugin writes custom `+Header=` values first and then always appends
#   its own random Message-ID, so `+Message-ID=` alone gives a message two of them. Its
#   module-level make_msgid is therefore wrapped: inside send() (a context variable, which Apprise
#   copies into its worker threads) it returns our deterministic id; elsewhere it is unchanged.
# - Failure reasons: Apprise logs the cause ("Connection refused", "550 No such user") only at
#   DEBUG, behind a generic warning. The `apprise` logger is set to DEBUG with a filter that drops
#   every record below the level the logger had before, so handlers see exactly what they saw
#   before; inside send() the dropped records' text is kept for SendResult.error.

_MESSAGE_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "monitor_message_id", default=None
)
_LOG_LINES: contextvars.ContextVar[list[tuple[int, str]] | None] = contextvars.ContextVar(
    "monitor_apprise_log", default=None
)
# Set while a URL is only being checked: Apprise's complaints become the check's answer, not logs.
_QUIET: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "monitor_apprise_quiet", default=False
)
_prepare_lock = threading.Lock()
_prepared = False
_msgid_hooked = False
_MAX_LOG_LINES = 200


class _KeepDetails(logging.Filter):
    def __init__(self, logger: logging.Logger, level: int) -> None:
        super().__init__()
        self.logger = logger
        self.level = level  # the logger's own level before it was lowered

    def threshold(self) -> int:
        if self.logger.level not in (logging.DEBUG, self.level):  # someone set a level since
            return self.logger.level
        if self.level != logging.NOTSET:
            return self.level
        parent = self.logger.parent
        return parent.getEffectiveLevel() if parent is not None else logging.WARNING

    def filter(self, record: logging.LogRecord) -> bool:
        lines = _LOG_LINES.get()
        if lines is not None and len(lines) < _MAX_LOG_LINES:
            with contextlib.suppress(Exception):  # a malformed record must not break a send
                lines.append((record.levelno, record.getMessage()))
        return not _QUIET.get() and record.levelno >= self.threshold()


def _prepare_apprise() -> bool:
    """Set Apprise up once; returns whether the Message-ID hook is in place."""
    global _prepared, _msgid_hooked
    with _prepare_lock:
        if _prepared:
            return _msgid_hooked
        # Apprise's PGP helper imports the stdlib `imghdr` (deprecated in Python 3.11/3.12);
        # under warnings-as-errors (pytest's filterwarnings = error) that would fail every send.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="'imghdr' is deprecated", category=DeprecationWarning
            )
            plugins: Any = importlib.import_module("apprise.plugins")
            manager = getattr(plugins, "N_MGR", None)
            if manager is not None:
                manager.load_modules()
            try:
                email_base: Any = importlib.import_module("apprise.plugins.email.base")
            except ImportError:
                email_base = None
        original: Callable[..., str] | None = getattr(email_base, "make_msgid", None)
        if original is not None:

            def make_msgid(*args: Any, **kwargs: Any) -> str:
                ours = _MESSAGE_ID.get()
                return ours if ours is not None else original(*args, **kwargs)

            email_base.make_msgid = make_msgid
            _msgid_hooked = True
        apprise_logger = logging.getLogger("apprise")
        apprise_logger.addFilter(_KeepDetails(apprise_logger, apprise_logger.level))
        apprise_logger.setLevel(logging.DEBUG)
        _prepared = True
        return _msgid_hooked


def _telegram_api(env: Mapping[str, str]) -> str | None:
    api = env.get(TELEGRAM_API_ENV) or os.environ.get(TELEGRAM_API_ENV)
    return api.strip() if api and api.strip() else None


def _reason(lines: list[tuple[int, str]], result: Any) -> tuple[str, bool]:
    """One-line failure reason from Apprise's log lines, and whether it is permanent."""
    warned = [one_line(text) for level, text in lines if level >= logging.WARNING]
    causes = [
        one_line(text.removeprefix("Socket Exception:"))
        for level, text in lines
        if level < logging.WARNING and text.startswith("Socket Exception:")
    ]
    if not warned and result is not None:  # the filter was bypassed: use Apprise's own capture
        try:
            warned = [one_line(str(entry.message)) for entry in result.logs()]
        except Exception:
            warned = []
    reasons = list(dict.fromkeys(r.rstrip(".").strip() for r in warned + causes if r.strip()))
    status = str(getattr(getattr(result, "status", None), "name", "") or "")
    if status == "TIMEOUT":
        reasons.append("timed out")
    joined = ": ".join(reasons) or f"delivery failed ({status.lower() or 'no details'})"
    permanent = any(
        400 <= int(code) < 500 and int(code) not in {408, 429}
        for code in _HTTP_ERROR.findall(joined)
    )
    return joined, permanent


def known_schemes() -> frozenset[str]:
    """URL schemes some installed Apprise plugin handles (mailto, mailtos, tgram, …)."""
    _prepare_apprise()
    plugins: Any = importlib.import_module("apprise.manager_plugins")
    return frozenset(str(s).lower() for s in plugins.NotificationManager().schemas())


def destination_problem(url_template: str, env: Mapping[str, str] | None) -> str | None:
    """Why Apprise could not use this destination, or None; secrets never appear in the text.

    The scheme is always checked; the whole URL only when env gives every ${VAR} a value.
    """
    scheme = _scheme(url_template)
    if not scheme:
        return "not an Apprise URL (scheme://…)"
    if scheme not in known_schemes():
        return f"Apprise has no plugin for {scheme}:// (mailto://, mailtos://, tgram://, …)"
    if env is None or any(not env.get(name) for name in placeholders(url_template)):
        return None
    url, secrets = _expand(url_template, env)
    secrets += _url_secrets(url)
    from apprise import Apprise

    lines: list[tuple[int, str]] = []
    token, quiet = _LOG_LINES.set(lines), _QUIET.set(True)
    try:
        service = Apprise.instantiate(url)
    except Exception as exc:  # a plugin's parser must not crash check-config
        service, lines = None, [(logging.ERROR, f"{type(exc).__name__}: {exc}")]
    finally:
        _LOG_LINES.reset(token)
        _QUIET.reset(quiet)
    if service is not None:
        return None
    why = "; ".join(dict.fromkeys(one_line(t) for lv, t in lines if lv >= logging.WARNING))
    why = _URL_IN_TEXT.sub(lambda m: redact(m.group(0), secrets), why)
    return _scrub(f"Apprise cannot use {redact(url, secrets)}: {why or 'malformed URL'}", secrets)


def send(url_template: str, message: Message, env: Mapping[str, str]) -> SendResult:
    """Deliver one message to one destination; blocking, never raises.

    Email gets the HTML body, the title as Subject and message.message_id as Message-ID;
    Telegram gets the plain text (Apprise escapes it, so no markup can break it); other schemes
    get the plain text and title. Apprise's own timeouts apply, with a 10 s connect timeout for
    HTTP plugins. If MONITOR_TELEGRAM_API is set (in env or the process environment), e.g.
    "http://127.0.0.1:8081/bot", Telegram requests go to that Bot API base instead of
    https://api.telegram.org/bot: for a local Bot API server and for tests.
    """
    secrets: list[str] = []
    try:
        url, secrets = _expand(url_template, env)
        secrets += _url_secrets(url)
        return _send(url, message, env, secrets)
    except SecretMissing as exc:
        return SendResult(False, str(exc), True)
    except Exception as exc:  # a bug or an Apprise surprise must not kill the dispatcher
        log.exception("alert send crashed", extra={"destination": redact(url_template, secrets)})
        return SendResult(False, _scrub(one_line(f"{type(exc).__name__}: {exc}"), secrets), False)


def _send(url: str, message: Message, env: Mapping[str, str], secrets: list[str]) -> SendResult:
    hooked = _prepare_apprise()
    from apprise import Apprise, AppriseAsset, NotifyFormat

    def failed(error: str, permanent: bool) -> SendResult:
        # Apprise's own masked URLs keep a secret's first and last character: redact them too.
        error = _URL_IN_TEXT.sub(lambda m: redact(m.group(0), secrets), one_line(error))
        return SendResult(False, _clip(_scrub(error, secrets), 500), permanent)

    channel = channel_of(url)
    if channel == "email" and not hooked:  # fallback: Apprise's custom-header parameter
        url = _with_param(url, "+Message-ID", quote(message.message_id, safe=""))
    if channel != "email" and "://" in url:
        url = _with_param(url, "cto", str(CONNECT_TIMEOUT))

    lines: list[tuple[int, str]] = []
    lines_token = _LOG_LINES.set(lines)
    id_token = _MESSAGE_ID.set(message.message_id if channel == "email" else None)
    try:
        asset = AppriseAsset(app_id=APP_ID)  # X-Application header, User-Agent
        service: Any = Apprise.instantiate(url, asset=asset)
        if service is None:
            why = "; ".join(one_line(t) for lv, t in lines if lv >= logging.WARNING)
            return failed(f"cannot use {redact(url, secrets)}: {why or 'unsupported URL'}", True)
        if channel == "telegram":
            api = _telegram_api(env)
            if api is not None:
                if not _safe_link(api):
                    return failed(f"{TELEGRAM_API_ENV} must be an http(s) URL", True)
                service.notify_url = api  # an instance attribute: this call only
            body, title, body_format = message.text, "", NotifyFormat.TEXT
        elif channel == "email":
            body, title, body_format = message.html, one_line(message.title), NotifyFormat.HTML
        else:
            body, title, body_format = message.text, one_line(message.title), NotifyFormat.TEXT
        apprise = Apprise(asset=asset)
        if not apprise.add(service):
            return failed(f"cannot use {redact(url, secrets)}", True)
        del lines[:]  # only the delivery's own log lines explain its failure
        result = apprise.notify(body=body, title=_clip(title, TITLE_MAX), body_format=body_format)
    finally:
        _MESSAGE_ID.reset(id_token)
        _LOG_LINES.reset(lines_token)
    if bool(result):
        return SendResult(True, None, False)
    reason, permanent = _reason(lines, result)
    if channel == "email" and _SMTP_PERMANENT.search(reason):
        permanent = True  # an SMTP 5xx reply is a permanent refusal by definition
    return failed(reason, permanent)
