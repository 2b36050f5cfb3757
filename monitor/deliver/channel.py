"""The only module that talks to Apprise: one message to one destination, and URL checks.

Reads: a Message, a destination URL template and the secrets. Writes: email (SMTP) and Telegram
messages (any Apprise scheme) over the network.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import logging
import os
import re
import ssl
import threading
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar
from urllib.parse import quote

from monitor.collect.plaintext import one_line
from monitor.deliver.destinations import (
    SecretMissing,
    channel_of,
    expand,
    placeholders,
    redact,
    scheme_of,
    scrub,
    url_secrets,
    with_param,
)
from monitor.deliver.render import TITLE_MAX, Message, clip, safe_link

log = logging.getLogger("monitor.notify")

TELEGRAM_API_ENV = "MONITOR_TELEGRAM_API"

_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://(?:[^\s'\"]*[^\s'\".,;:)])?")
_HTTP_ERROR = re.compile(r"error=(\d{3})\b")
_SMTP_PERMANENT = re.compile(r"(?:\(|refused: )(5\d\d)\b")
_RETRY_AFTER = re.compile(r"retry after (\d{1,9})\b", re.IGNORECASE)  # Telegram's 429 text
# A send that failed after the message may have left: the server may well have it.
_LOST_REPLY = re.compile(
    r"read timed out|timed out|remotedisconnected|connection aborted|connection reset|"
    r"server disconnected|connection unexpectedly closed|broken pipe",
    re.IGNORECASE,
)
_SMTP_SEND_PHASE = re.compile(r"^Sending email to .* failed", re.IGNORECASE)
_SMTP_CODE = re.compile(r"\(\s*[2-5]\d\d\s*,")  # smtplib's (code, b'message') of a reply
_HTTP_SENT_PHASE = re.compile(r"read timed out|remotedisconnected|connection aborted", re.I)


@dataclass(frozen=True)
class Timeouts:
    """How long a channel may take: to connect, and for the whole exchange once connected."""

    connect: float = 10.0
    send: float = 30.0


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None  # one line, secrets redacted
    permanent: bool  # retrying cannot fix it (bad markup 400, unknown scheme, missing secret)
    unknown: bool = False  # failed after sending: the provider may have delivered it
    retry_after: float | None = None  # seconds the provider asked to wait (Telegram 429)


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
# - TLS contexts: the SMTP plugin builds a fresh default context (loading the whole CA bundle,
#   ~35 ms of CPU) for every connection, even a plain one. Its `ssl` name is given a stand-in
#   whose contexts are shared per verification setting (_SharedContexts).
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


class _Context:
    """What the SMTP plugin's create_default_context() returns: a verifying context unless the
    plugin turns checking off on it, each setting backed by one context shared by all sends.

    A shared context is never changed after it is built, so a destination with verify=no cannot
    weaken another destination's connection.
    """

    _shared: ClassVar[dict[tuple[bool, ssl.VerifyMode], ssl.SSLContext]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        object.__setattr__(self, "_settings", {"check_hostname": True, "verify_mode": None})

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in ("check_hostname", "verify_mode"):
            raise AttributeError(f"a shared TLS context cannot change {name}")
        self._settings[name] = value

    def _context(self) -> ssl.SSLContext:
        settings: dict[str, Any] = self._settings
        mode = settings["verify_mode"]
        key = (bool(settings["check_hostname"]), ssl.CERT_REQUIRED if mode is None else mode)
        with self._lock:
            context = self._shared.get(key)
            if context is None:
                context = ssl.create_default_context()
                context.check_hostname = key[0]  # hostname checks off before verification off
                context.verify_mode = key[1]
                self._shared[key] = context
        return context

    def __getattr__(self, name: str) -> Any:  # wrap_socket, and the settings as set
        return getattr(self._context(), name)


class _SharedContexts:
    """Stands in for the `ssl` module inside Apprise's SMTP plugin."""

    def __getattr__(self, name: str) -> Any:
        return getattr(ssl, name)

    @staticmethod
    def create_default_context(*args: Any, **kwargs: Any) -> Any:
        if args or kwargs:  # a purpose or CA file we do not share
            return ssl.create_default_context(*args, **kwargs)
        return _Context()


def _share_tls_contexts() -> None:
    try:
        smtp: Any = importlib.import_module("apprise.plugins.email.smtp")
    except ImportError:  # another Apprise layout: its own contexts, just slower
        return
    if getattr(smtp, "ssl", None) is ssl:
        smtp.ssl = _SharedContexts()


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
            _share_tls_contexts()
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


def _reason(lines: list[tuple[int, str]], result: Any, channel: str) -> SendResult:
    """The failure as Apprise logged it: the reason, whether it is permanent, whether the
    message may have been delivered anyway, and any wait the provider asked for."""
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
    if channel == "email" and _SMTP_PERMANENT.search(joined):
        permanent = True  # an SMTP 5xx reply is a permanent refusal by definition
    cause = " ".join(causes)
    if channel == "email":
        # Connecting and logging in fail before anything is sent; a timeout or a dropped
        # connection inside sendmail() may come after the server took the whole message.
        sent_phase = any(_SMTP_SEND_PHASE.match(w) for w in warned)
        unknown = sent_phase and bool(_LOST_REPLY.search(cause)) and not _SMTP_CODE.search(cause)
    else:
        unknown = bool(_HTTP_SENT_PHASE.search(joined))  # the request was written, no answer
    asked = _RETRY_AFTER.search(joined)
    return SendResult(
        False, joined, permanent and not unknown, unknown,
        float(asked.group(1)) if asked else None,
    )  # fmt: skip


def _header_safe(text: str) -> str:
    """ASCII for HTTP headers: urllib3 refuses "India–Japan" (an en dash) in a User-Agent."""
    folded = unicodedata.normalize("NFKD", re.sub(r"[\u2010-\u2015\u2212]", "-", text))
    return folded.encode("ascii", "ignore").decode("ascii").strip() or "News Monitor"


def known_schemes() -> frozenset[str]:
    """URL schemes some installed Apprise plugin handles (mailto, mailtos, tgram, …)."""
    _prepare_apprise()
    plugins: Any = importlib.import_module("apprise.manager_plugins")
    return frozenset(str(s).lower() for s in plugins.NotificationManager().schemas())


def destination_problem(url_template: str, env: Mapping[str, str] | None) -> str | None:
    """Why Apprise could not use this destination, or None; secrets never appear in the text.

    The scheme is always checked; the whole URL only when env gives every ${VAR} a value.
    """
    scheme = scheme_of(url_template)
    if not scheme:
        return "not an Apprise URL (scheme://…)"
    if scheme not in known_schemes():
        return f"Apprise has no plugin for {scheme}:// (mailto://, mailtos://, tgram://, …)"
    if env is None or any(not env.get(name) for name in placeholders(url_template)):
        return None
    url, secrets = expand(url_template, env)
    secrets += url_secrets(url)
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
    return scrub(f"Apprise cannot use {redact(url, secrets)}: {why or 'malformed URL'}", secrets)


def send(
    url_template: str,
    message: Message,
    env: Mapping[str, str],
    timeouts: Timeouts = Timeouts(),
) -> SendResult:
    """Deliver one message to one destination; blocking, never raises.

    Email gets the HTML body, the title as Subject and message.message_id as Message-ID;
    Telegram gets the plain text (Apprise escapes it, so no markup can break it); other schemes
    get the plain text and title. HTTP plugins get timeouts.connect to connect and
    timeouts.send to answer; SMTP's one socket timeout is timeouts.send, so a slow server that
    takes the whole message is not cut off mid-reply. If MONITOR_TELEGRAM_API is set (in env or
    the process environment), e.g. "http://127.0.0.1:8081/bot", Telegram requests go to that Bot
    API base instead of https://api.telegram.org/bot: for a local Bot API server and for tests.
    """
    secrets: list[str] = []
    try:
        url, secrets = expand(url_template, env)
        secrets += url_secrets(url)
        return _send(url, message, env, secrets, timeouts)
    except SecretMissing as exc:
        return SendResult(False, str(exc), True)
    except Exception as exc:  # a bug or an Apprise surprise must not kill the dispatcher
        log.exception("alert send crashed", extra={"destination": redact(url_template, secrets)})
        return SendResult(False, scrub(one_line(f"{type(exc).__name__}: {exc}"), secrets), False)


def _send(
    url: str, message: Message, env: Mapping[str, str], secrets: list[str], timeouts: Timeouts
) -> SendResult:
    hooked = _prepare_apprise()
    from apprise import Apprise, AppriseAsset, NotifyFormat

    def failed(error: str, permanent: bool) -> SendResult:
        return _clean(SendResult(False, error, permanent), secrets)

    channel = channel_of(url)
    if channel == "email" and not hooked:  # fallback: Apprise's custom-header parameter
        url = with_param(url, "+Message-ID", quote(message.message_id, safe=""))
    if channel == "email":
        url = with_param(url, "cto", f"{timeouts.send:g}")  # smtplib's one socket timeout
    elif "://" in url:
        url = with_param(url, "cto", f"{timeouts.connect:g}")
        url = with_param(url, "rto", f"{timeouts.send:g}")

    lines: list[tuple[int, str]] = []
    lines_token = _LOG_LINES.set(lines)
    id_token = _MESSAGE_ID.set(message.message_id if channel == "email" else None)
    try:
        asset = AppriseAsset(app_id=_header_safe(message.signature))  # User-Agent, X-Application
        service: Any = Apprise.instantiate(url, asset=asset)
        if service is None:
            why = "; ".join(one_line(t) for lv, t in lines if lv >= logging.WARNING)
            return failed(f"cannot use {redact(url, secrets)}: {why or 'unsupported URL'}", True)
        if channel == "telegram":
            api = _telegram_api(env)
            if api is not None:
                if not safe_link(api):
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
        result = apprise.notify(body=body, title=clip(title, TITLE_MAX), body_format=body_format)
    finally:
        _MESSAGE_ID.reset(id_token)
        _LOG_LINES.reset(lines_token)
    if bool(result):
        return SendResult(True, None, False)
    return _clean(_reason(lines, result, channel), secrets)


def _clean(result: SendResult, secrets: list[str]) -> SendResult:
    # Apprise's own masked URLs keep a secret's first and last character: redact them too.
    error = _URL_IN_TEXT.sub(lambda m: redact(m.group(0), secrets), one_line(result.error or ""))
    return replace(result, error=clip(scrub(error, secrets), 500))
