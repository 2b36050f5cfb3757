"""Shared fixtures: a loopback HTTP server for fixture feeds, config files and SQLite databases."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

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

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.slow_started = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
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

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def serve(self, path: str, body: bytes | str, status: int = 200, **kwargs: Any) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(status=status, body=data, **kwargs)
        return self.base_url + path

    def serve_file(self, path: str, fixture: Path, **kwargs: Any) -> str:
        return self.serve(path, fixture.read_bytes(), **kwargs)

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


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "monitor.db"


@pytest.fixture
def fixed_now() -> datetime:
    return datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
