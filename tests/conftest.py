"""Shared fixtures: a loopback HTTP server for fixture feeds, config files and SQLite databases.

Fixture files under tests/data hold date tokens ({{D-3 17:42+09:00 iso}}, tests/fixture_dates.py):
FeedServer renders them against its clock, the machine's clock at the server's start, because the
monitor processes it serves read the machine's clock too.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.abc import AbstractResolver, ResolveResult

from tests.fixture_dates import FixtureClock

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
FEEDS = DATA / "feeds"


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True  # answer If-None-Match with 304 when it matches
    delay: float = 0.0  # seconds before answering: a slow server


class FeedServer:
    """A real HTTP server on 127.0.0.1 serving routes set by the test, recording every request."""

    def __init__(
        self, clock: FixtureClock | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.clock = clock or FixtureClock.real()  # renders the date tokens of served fixtures
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.times: list[tuple[float, str]] = []  # (time.monotonic(), path) of every request
        self.slow_started = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else delayed ACKs stall each response ~40 ms

            def do_GET(self) -> None:
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                server.times.append((time.monotonic(), self.path))
                route = server.routes.get(self.path)
                if route is not None and route.delay:
                    server.slow_started.set()
                    time.sleep(route.delay)
                if route is None:
                    self._send(404, b"not found", {"Content-Type": "text/plain"})
                    return
                headers = {"Content-Type": "application/rss+xml; charset=UTF-8", **route.headers}
                if route.etag and route.status == 200:
                    tag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
                    headers.setdefault("ETag", tag)
                    if self.headers.get("If-None-Match") == headers["ETag"]:
                        self._send(304, b"", {"ETag": headers["ETag"]})
                        return
                self._send(route.status, route.body, headers)

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def serve(self, path: str, body: bytes | str, status: int = 200, **kwargs: Any) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(status=status, body=data, **kwargs)
        return self.base_url + path

    def serve_file(self, path: str, fixture: Path, **kwargs: Any) -> str:
        """Serve a fixture file with its date tokens rendered against this server's clock."""
        return self.serve(path, self.clock.read_bytes(fixture), **kwargs)

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


def shipped_config() -> dict[str, Any]:
    """The repository's feeds.yaml as data, for tests that swap in loopback sources."""
    loaded: dict[str, Any] = yaml.safe_load((REPO / "feeds.yaml").read_text(encoding="utf-8"))
    return loaded


def write_config(path: Path, sources: list[dict[str, Any]], **overrides: Any) -> Path:
    """feeds.yaml with the shipped relevance and sectors, the given sources, loopback allowed."""
    data = shipped_config()
    data["sources"] = sources
    data["fetch"] = {"allow_private_networks": True, "total_timeout": 5, "connect_timeout": 2}
    data.update(overrides)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend in turn: a SQLite file, then a PostgreSQL database of
    its own on the machine's server (tests/databases.py)."""
    from tests.databases import database_url

    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def every_backend(db_url: str) -> Iterator[None]:
    """For module helpers that open their own databases: tests.databases.open_database() opens
    one on this test's backend (SQLite, then PostgreSQL); `pytestmark = usefixtures(...)`."""
    from tests.databases import on_backend

    with on_backend(db_url):
        yield


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "monitor.db"


# --- alert delivery fixtures ---
# smtp_server: aiosmtpd on 127.0.0.1 recording every message; telegram_server: a fake Bot API.
# Both expose .port/.url, so subprocesses can use them too (MONITOR_TELEGRAM_API=server.api).
import asyncio  # noqa: E402
import email.policy  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from email.message import EmailMessage  # noqa: E402
from email.parser import BytesParser  # noqa: E402
from html import unescape  # noqa: E402
from urllib.parse import parse_qsl, urlsplit  # noqa: E402


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (aiosmtpd's Controller cannot use port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return bool(check())


class SmtpServer:
    """aiosmtpd on 127.0.0.1 with a fixed port; .stop()/.start() take it down and back up."""

    def __init__(self, ssl_context: Any = None) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.ssl_context = ssl_context  # implicit TLS (mailtos://…?mode=ssl) when set
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs) per message
        self.reject: set[str] = set()  # recipients answered "550 5.1.1" at RCPT
        self.reply_delay = 0.0  # seconds between taking a message and answering its DATA
        self._replies: list[str] = []  # queued DATA replies from fail_next()
        self._lock = threading.Lock()
        self._controller: Any = None
        self.start()

    @property
    def url(self) -> str:
        return self.mail_url()

    def mail_url(self, to: str = "reader@example.org", sender: str = "monitor@example.org") -> str:
        """An Apprise URL delivering to this server without TLS or AUTH."""
        return f"mailto://{self.host}:{self.port}?from={sender}&to={to}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        if self._controller is None:
            controller = Controller(
                self, hostname=self.host, port=self.port, ssl_context=self.ssl_context
            )
            controller.start()
            self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    close = stop

    def fail_next(self, n: int = 1, reply: str = "451 4.3.0 Temporary failure, try later") -> None:
        """Answer the next n messages' DATA with this reply instead of accepting them."""
        with self._lock:
            self._replies += [reply] * n

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        return _wait_until(lambda: len(self.messages) >= count, timeout)

    # aiosmtpd handler hooks
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.lower() in {r.lower() for r in self.reject}:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self._replies:
                return self._replies.pop(0)
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=email.policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.messages.append(message)
        if self.reply_delay:  # a slow provider: it has the message, the client hears nothing yet
            await asyncio.sleep(self.reply_delay)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


_TG_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span",
    "tg-spoiler", "tg-emoji", "blockquote",
}  # fmt: skip
_TG_HTML_TOKEN = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'))*)\s*>"
    r"|&(?:#[0-9]+|#x[0-9a-fA-F]+|lt|gt|amp|quot);"
)
_TG_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")


class TelegramError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def telegram_rendered(text: str, parse_mode: str | None) -> str:
    """What Telegram would display for text in parse_mode; TelegramError(400) where it would."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        out: list[str] = []
        stack: list[str] = []
        pos = 0
        while pos < len(text):
            nxt = min((i for i in (text.find("<", pos), text.find("&", pos)) if i >= 0), default=-1)
            if nxt < 0:
                out.append(text[pos:])
                break
            out.append(text[pos:nxt])
            match = _TG_HTML_TOKEN.match(text, nxt)
            if match is None:
                raise TelegramError(
                    400, f"Bad Request: can't parse entities: unexpected character at {nxt}"
                )
            if match.group(0).startswith("&"):
                out.append(unescape(match.group(0)))
            else:
                closing, tag = match.group(1) == "/", match.group(2).lower()
                if tag not in _TG_TAGS:
                    raise TelegramError(
                        400, f'Bad Request: can\'t parse entities: unsupported tag "{tag}"'
                    )
                if closing:
                    if not stack or stack.pop() != tag:
                        raise TelegramError(
                            400, f'Bad Request: can\'t parse entities: unmatched end tag "{tag}"'
                        )
                else:
                    stack.append(tag)
            pos = match.end()
        if stack:
            raise TelegramError(400, "Bad Request: can't parse entities: unclosed start tag")
        return "".join(out)
    if mode == "markdown":
        for mark in "*_`":
            if text.count(mark) % 2:
                raise TelegramError(
                    400, f"Bad Request: can't parse entities: can't find end of entity {mark}"
                )
        return text.replace("*", "").replace("_", "").replace("`", "")
    if mode == "markdownv2":
        out2: list[str] = []
        escaped = False
        for char in text:
            if escaped:
                out2.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char in _TG_MDV2_RESERVED:
                raise TelegramError(
                    400, f"Bad Request: can't parse entities: character '{char}' is reserved"
                )
            else:
                out2.append(char)
        return "".join(out2)
    return text


class TelegramServer:
    """A fake Telegram Bot API on 127.0.0.1: sendMessage, getUpdates, getMe.

    Validates parse_mode markup and the 4096-character limit like the real API, records every
    request and every accepted message, and fails on demand (fail_with / fail_next).
    Point Apprise at it with MONITOR_TELEGRAM_API=<server.api>.
    """

    def __init__(self) -> None:
        self.owner_chat_id = 987654321  # answered by getUpdates (Apprise's owner detection)
        self.requests: list[tuple[str, str, dict[str, Any]]] = []  # (method, token, payload)
        self.messages: list[dict[str, Any]] = []  # accepted sendMessage payloads (+ "rendered")
        self.delay = 0.0  # seconds to wait before answering send* methods
        self._queued: list[tuple[int, str]] = []
        self._persistent: tuple[int, str] | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._handle(dict(parse_qsl(urlsplit(self.path).query)))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                payload: dict[str, Any] = {}
                try:
                    if ctype == "application/json":
                        payload = json.loads(raw or b"{}")
                    elif ctype == "application/x-www-form-urlencoded":
                        payload = dict(parse_qsl(raw.decode("utf-8")))
                except ValueError:
                    self._reply(400, {"ok": False, "error_code": 400, "description": "Bad JSON"})
                    return
                self._handle(payload)

            def _handle(self, payload: dict[str, Any]) -> None:
                match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", urlsplit(self.path).path)
                if match is None:
                    self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                    return
                token, method = match.groups()
                with server._lock:
                    server.requests.append((method, token, payload))
                status, body = server._answer(method, payload)
                self._reply(status, body)

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = self.url + "/bot"  # value for MONITOR_TELEGRAM_API
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def fail_with(self, status: int, description: str, times: int | None = None) -> None:
        """Answer send* calls with this error: `times` times, or until recover() if None."""
        with self._lock:
            if times is None:
                self._persistent = (status, description)
            else:
                self._queued += [(status, description)] * times

    def fail_next(self, n: int = 1, status: int = 502, description: str = "Bad Gateway") -> None:
        self.fail_with(status, description, times=n)

    def recover(self) -> None:
        with self._lock:
            self._persistent = None
            self._queued.clear()

    @property
    def tokens(self) -> list[str]:
        """Bot tokens seen in sendMessage request paths."""
        return [token for method, token, _ in self.requests if method == "sendMessage"]

    def texts(self) -> list[str]:
        """What Telegram would display for each accepted message."""
        return [str(m["rendered"]) for m in self.messages]

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        return _wait_until(lambda: len(self.messages) >= count, timeout)

    def _answer(self, method: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "getMe":
            me = {"id": 123456, "is_bot": True, "first_name": "Monitor", "username": "ij_test_bot"}
            return 200, {"ok": True, "result": me}
        if method == "getUpdates":
            user = {"id": self.owner_chat_id, "is_bot": False, "first_name": "Reader"}
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "from": user,
                    "chat": {"id": self.owner_chat_id, "type": "private", "first_name": "Reader"},
                    "date": int(time.time()),
                    "text": "/start",
                },
            }
            return 200, {"ok": True, "result": [update]}
        if not method.startswith("send"):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            failure = self._queued.pop(0) if self._queued else self._persistent
        if failure is not None:
            status, description = failure
            return status, {"ok": False, "error_code": status, "description": description}
        if method != "sendMessage":
            return 200, {"ok": True, "result": {"message_id": 0}}
        try:
            if not payload.get("chat_id"):
                raise TelegramError(400, "Bad Request: chat_id is empty")
            rendered = telegram_rendered(str(payload.get("text", "")), payload.get("parse_mode"))
            if not rendered.strip():
                raise TelegramError(400, "Bad Request: message text is empty")
            if len(rendered) > 4096:
                raise TelegramError(400, "Bad Request: message is too long")
        except TelegramError as exc:
            error = {"ok": False, "error_code": exc.status, "description": exc.description}
            return exc.status, error
        with self._lock:
            self.messages.append({**payload, "rendered": rendered})
            message_id = len(self.messages)
        result = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": payload.get("chat_id"), "type": "private"},
            "text": rendered,
        }
        return 200, {"ok": True, "result": result}

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def telegram_server() -> Iterator[TelegramServer]:
    server = TelegramServer()
    yield server
    server.close()


# --- end alert delivery fixtures ---


# --- DNS ---
class FakeResolver(AbstractResolver):
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in self.answers[host]
        ]

    async def close(self) -> None:
        pass
