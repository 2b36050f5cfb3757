"""monitor.collect.fetch against real servers on 127.0.0.1 (aiohttp.web or raw asyncio)."""

from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web

from monitor.collect.fetch import ACCEPT, Fetcher, FetchError, FetchResult
from monitor.config import FetchConfig as FetchSettings
from tests.conftest import FakeResolver

UA = "IndiaJapanMonitorTest/1.0 (+https://example.invalid/bot)"
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def _make_gzip_bomb() -> bytes:
    """1 GiB of zeros as a ~1 MB gzip body, built in ~0.2 s with ~1 MiB of memory.

    After a full flush deflate restarts with an empty window, so compressing the same 1 MiB
    again yields the same bytes; the block is therefore compressed once and repeated.
    """
    zeros = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    assert comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH) == block
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (1 << 30 & 0xFFFFFFFF).to_bytes(4, "little")
    return header + block * 1024 + comp.flush() + trailer


GZIP_BOMB = _make_gzip_bomb()


def settings(**overrides: Any) -> FetchSettings:
    values: dict[str, Any] = {
        "user_agent": UA,
        "allow_private_networks": True,
        "total_timeout": 5.0,
    }
    values.update(overrides)
    return FetchSettings(**values)


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@asynccontextmanager
async def serve(
    routes: Mapping[str, Callable[[web.Request], Awaitable[web.StreamResponse]]],
) -> AsyncIterator[tuple[str, list[web.Request]]]:
    """aiohttp.web app on an ephemeral loopback port; yields its base URL and the requests seen."""
    seen: list[web.Request] = []

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        seen.append(request)
        return await handler(request)

    app = web.Application(middlewares=[record])
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2, handler_cancellation=True)
    await runner.setup()
    sock = listening_socket()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", seen
    finally:
        await runner.cleanup()


@asynccontextmanager
async def raw_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    """Plain TCP server for responses aiohttp.web refuses to produce."""
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            await handle(reader, writer)
        # Python 3.11's start_server logs a traceback for a cancelled handler, so the
        # cancellation from shutdown is absorbed here.
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(on_connect, sock=listening_socket())
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def fetch(
    url: str, s: FetchSettings | None = None, dns: FakeResolver | None = None, **kwargs: Any
) -> FetchResult:
    async with Fetcher(s or settings(), dns=dns) as fetcher:
        return await fetcher.get(url, **kwargs)


async def fetch_error(
    url: str, s: FetchSettings | None = None, dns: FakeResolver | None = None, **kwargs: Any
) -> FetchError:
    with pytest.raises(FetchError) as info:
        await fetch(url, s, dns, **kwargs)
    err = info.value
    assert "\n" not in str(err)
    return err


def body(data: bytes, **headers: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=data, headers=headers)

    return handler


# --- success paths ---------------------------------------------------------------------------


def test_conditional_get_and_headers() -> None:
    etag, modified = '"v1"', "Wed, 21 Oct 2015 07:28:00 GMT"

    async def feed(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304)
        return web.Response(
            body=FEED,
            headers={
                "ETag": etag,
                "Last-Modified": modified,
                "Content-Type": "application/rss+xml",
            },
        )

    async def go() -> None:
        async with serve({"/feed": feed}) as (base, seen), Fetcher(settings()) as fetcher:
            first = await fetcher.get(f"{base}/feed")
            assert first.status == 200 and not first.not_modified
            assert first.body == FEED
            assert first.url == f"{base}/feed"
            assert first.content_type == "application/rss+xml"
            assert (first.etag, first.last_modified) == (etag, modified)
            assert first.elapsed >= 0

            second = await fetcher.get(
                f"{base}/feed", etag=first.etag, last_modified=first.last_modified
            )
            assert second.not_modified and second.status == 304 and second.body == b""
            # The server sent no validators with its 304, so the ones sent in come back.
            assert (second.etag, second.last_modified) == (etag, modified)

            plain, conditional = seen
            assert "If-None-Match" not in plain.headers
            assert "If-Modified-Since" not in plain.headers
            assert conditional.headers["If-None-Match"] == etag
            assert conditional.headers["If-Modified-Since"] == modified
            for request in seen:
                assert request.headers["User-Agent"] == UA
                assert request.headers["Accept"] == ACCEPT
                assert request.headers["Accept-Encoding"] == "gzip, deflate"
                assert "Cookie" not in request.headers

    run(go())


def _deflate(data: bytes, wbits: int) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return comp.compress(data) + comp.flush()


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        ("gzip", _deflate(FEED, 16 + zlib.MAX_WBITS)),
        ("x-gzip", _deflate(FEED, 16 + zlib.MAX_WBITS)),
        ("GZIP", _deflate(FEED, 16 + zlib.MAX_WBITS)),
        ("deflate", _deflate(FEED, zlib.MAX_WBITS)),  # zlib-wrapped, as the RFC says
        ("deflate", _deflate(FEED, -zlib.MAX_WBITS)),  # raw, as many servers send
        ("gzip", _deflate(FEED[:40], 31) + _deflate(FEED[40:], 31)),  # two gzip members
        ("identity", FEED),
    ],
)
def test_content_encodings_decoded(encoding: str, encoded: bytes) -> None:
    async def go() -> None:
        handler = body(encoded, **{"Content-Encoding": encoding})
        async with serve({"/feed": handler}) as (base, _):
            result = await fetch(f"{base}/feed")
            assert result.body == FEED

    run(go())


def test_non_200_success_status_is_accepted() -> None:
    async def created(request: web.Request) -> web.Response:
        return web.Response(status=203, body=FEED)

    async def go() -> None:
        async with serve({"/feed": created}) as (base, _):
            result = await fetch(f"{base}/feed")
            assert (result.status, result.body) == (203, FEED)

    run(go())


# --- size caps -------------------------------------------------------------------------------


def test_gzip_bomb_aborts_at_cap_with_bounded_memory() -> None:
    handler = body(GZIP_BOMB, **{"Content-Encoding": "gzip", "Content-Type": "application/xml"})

    async def go() -> FetchError:
        async with serve({"/bomb": handler}) as (base, _):
            return await fetch_error(f"{base}/bomb")

    tracemalloc.start()
    try:
        started = time.monotonic()
        err = run(go())
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.kind == "too_large"
    assert str(err) == f"body larger than {5 * 1024 * 1024} bytes"
    assert elapsed < 3
    # The cap is 5 MiB of output; 1 GiB would be reached without the bound.
    assert peak < 32 * 1024 * 1024, peak


def test_content_length_over_cap_aborts_before_reading() -> None:
    async def go() -> None:
        async with serve({"/big": body(b"x" * 5000)}) as (base, _):
            err = await fetch_error(f"{base}/big", max_bytes=1000)
            assert err.kind == "too_large"
            assert "Content-Length 5000" in str(err)

    run(go())


def test_chunked_body_over_cap_aborts() -> None:
    chunks_written = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal chunks_written
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(10_000):
            await resp.write(b"<item>" + b"x" * 1018)
            chunks_written += 1
        await resp.write_eof()
        return resp

    async def go() -> None:
        async with serve({"/big": endless}) as (base, _):
            err = await fetch_error(f"{base}/big", settings(max_bytes=64 * 1024))
            assert err.kind == "too_large"
            assert str(err) == "body larger than 65536 bytes"

    run(go())
    assert chunks_written < 10_000


def test_unknown_content_encoding_is_protocol_error() -> None:
    async def go() -> None:
        handler = body(b"\x1b\x00\x00", **{"Content-Encoding": "br"})
        async with serve({"/feed": handler}) as (base, _):
            err = await fetch_error(f"{base}/feed")
            assert err.kind == "protocol"
            assert "'br'" in str(err)

    run(go())


@pytest.mark.parametrize("encoded", [b"\x1f\x8bnot really gzip", _deflate(FEED, 31)[:-12], b"\x1f"])
def test_corrupt_or_truncated_gzip_is_protocol_error(encoded: bytes) -> None:
    async def go() -> None:
        handler = body(encoded, **{"Content-Encoding": "gzip"})
        async with serve({"/feed": handler}) as (base, _):
            err = await fetch_error(f"{base}/feed")
            assert err.kind == "protocol"

    run(go())


# --- timeouts --------------------------------------------------------------------------------


def test_server_that_never_answers_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    async def go() -> None:
        async with raw_server(silent) as base:
            started = time.monotonic()
            err = await fetch_error(f"{base}/feed", settings(total_timeout=0.5))
            assert time.monotonic() - started < 2
            assert err.kind == "timeout"
            assert str(err) == "timed out after 0.5s"

    run(go())


def test_trickling_server_hits_total_timeout() -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        while True:
            await resp.write(b"x")
            await asyncio.sleep(0.05)

    async def go() -> None:
        async with serve({"/feed": trickle}) as (base, _):
            started = time.monotonic()
            err = await fetch_error(f"{base}/feed", settings(total_timeout=0.5))
            assert time.monotonic() - started < 2
            assert err.kind == "timeout"

    run(go())


def test_stalled_body_hits_read_timeout() -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<rss>")
        await writer.drain()
        await asyncio.sleep(3600)

    async def go() -> None:
        async with raw_server(stall) as base:
            err = await fetch_error(f"{base}/feed", settings(read_timeout=0.3))
            assert err.kind == "timeout"
            assert "0.3s" in str(err)

    run(go())


# --- HTTP status handling --------------------------------------------------------------------


def test_http_500() -> None:
    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    async def go() -> None:
        async with serve({"/feed/": fail}) as (base, _):
            err = await fetch_error(f"{base}/feed/")
            assert (err.kind, err.status, err.retry_after) == ("http", 500, None)
            assert str(err) == f"HTTP 500 from {base}/feed/"
            assert err.url == f"{base}/feed/"

    run(go())


def test_429_retry_after_seconds() -> None:
    async def limited(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "120"})

    async def go() -> None:
        async with serve({"/feed": limited}) as (base, _):
            err = await fetch_error(f"{base}/feed")
            assert (err.kind, err.status, err.retry_after) == ("http", 429, timedelta(seconds=120))

    run(go())


def test_503_retry_after_http_date_uses_injected_clock() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)

    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=503, headers={"Retry-After": later})

    async def go() -> None:
        async with serve({"/feed": busy}) as (base, _), Fetcher(settings(), now=lambda: now) as f:
            with pytest.raises(FetchError) as info:
                await f.get(f"{base}/feed")
            assert (info.value.status, info.value.retry_after) == (503, timedelta(seconds=90))

    run(go())


def test_empty_200_body() -> None:
    async def go() -> None:
        async with serve({"/feed": body(b"")}) as (base, _):
            err = await fetch_error(f"{base}/feed")
            assert err.kind == "empty"

    run(go())


def test_content_length_longer_than_body_is_protocol_error() -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n<rss>")
        await writer.drain()

    async def go() -> None:
        async with raw_server(short) as base:
            err = await fetch_error(f"{base}/feed")
            assert err.kind == "protocol"

    run(go())


def test_garbage_response_is_protocol_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\nwhat is this\r\n\r\n")
        await writer.drain()

    async def go() -> None:
        async with raw_server(garbage) as base:
            err = await fetch_error(f"{base}/feed")
            assert err.kind == "protocol", err

    run(go())


def test_connection_refused() -> None:
    sock = listening_socket()
    port = sock.getsockname()[1]
    sock.close()
    err = run(fetch_error(f"http://127.0.0.1:{port}/feed"))
    assert err.kind == "connect"
    assert f"127.0.0.1:{port}" in str(err)


# --- redirects and the guard -----------------------------------------------------------------


def redirect(location: str, status: int = 301) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    return handler


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_followed(status: int) -> None:
    async def go() -> None:
        routes = {"/old": redirect("/new/feed", status), "/new/feed": body(FEED)}
        async with serve(routes) as (base, seen):
            result = await fetch(f"{base}/old")
            assert result.body == FEED
            assert result.url == f"{base}/new/feed"
            assert [r.path for r in seen] == ["/old", "/new/feed"]

    run(go())


def test_redirect_loop() -> None:
    async def go() -> None:
        async with serve({"/a": redirect("/b"), "/b": redirect("/a")}) as (base, seen):
            err = await fetch_error(f"{base}/a")
            assert err.kind == "redirects"
            assert "loop" in str(err)
            assert len(seen) == 2

    run(go())


def test_too_many_redirects() -> None:
    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        return web.Response(status=302, headers={"Location": f"/r/{n + 1}"})

    async def go() -> None:
        async with serve({"/r/{n}": hop}) as (base, seen):
            err = await fetch_error(f"{base}/r/0", settings(max_redirects=3))
            assert err.kind == "redirects"
            assert "more than 3 redirects" in str(err)
            assert len(seen) == 4

    run(go())


def test_private_literal_refused_before_connecting() -> None:
    async def go() -> None:
        async with serve({"/feed": body(FEED)}) as (base, seen):
            err = await fetch_error(f"{base}/feed", settings(allow_private_networks=False))
            assert err.kind == "blocked"
            assert "127.0.0.1" in str(err)
            assert seen == []

    run(go())


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "gopher://127.0.0.1:70/", "http://2130706433/"]
)
def test_redirect_hop_to_forbidden_url_refused(location: str) -> None:
    async def go() -> None:
        async with serve({"/feed": redirect(location)}) as (base, seen):
            err = await fetch_error(f"{base}/feed")
            assert err.kind == "blocked"
            assert f"redirect from {base}/feed" in str(err)
            assert len(seen) == 1

    run(go())


def test_redirect_to_localhost_allowed_when_private_allowed() -> None:
    async def hop(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": request.query["to"]})

    async def go_with_hop() -> None:
        async with serve({"/hop": hop, "/feed": body(FEED)}) as (base, seen):
            port = base.rsplit(":", 1)[1]
            target = f"http://localhost:{port}/feed"
            result = await fetch(f"{base}/hop?to={target}")
            assert (result.url, result.body) == (target, FEED)
            assert [r.host for r in seen] == [f"127.0.0.1:{port}", f"localhost:{port}"]

    run(go_with_hop())


def test_hostname_resolving_to_loopback_refused_by_resolver() -> None:
    async def go() -> None:
        async with serve({"/feed": body(FEED)}) as (base, seen):
            port = base.rsplit(":", 1)[1]
            err = await fetch_error(
                f"http://localhost:{port}/feed", settings(allow_private_networks=False)
            )
            assert err.kind == "blocked"
            assert "localhost" in str(err) and "127.0.0.1" in str(err)
            assert seen == []

    run(go())


def test_dns_rebinding_to_loopback_refused_at_connect() -> None:
    # check_url passes the name (names are judged on what they resolve to at connect time).
    dns = FakeResolver({"news.example": ["127.0.0.1"]})

    async def go() -> None:
        async with serve({"/feed": body(FEED)}) as (base, seen):
            port = base.rsplit(":", 1)[1]
            err = await fetch_error(
                f"http://news.example:{port}/feed", settings(allow_private_networks=False), dns
            )
            assert err.kind == "blocked"
            assert "news.example" in str(err) and "127.0.0.1" in str(err)
            assert seen == []

    run(go())


def test_dns_failure() -> None:
    err = run(fetch_error("http://no-such-host.example/feed", dns=FakeResolver({})))
    assert err.kind == "dns"
    assert "no-such-host.example" in str(err)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http:///feed", "bad_url"),
        ("ftp://example.com/feed", "blocked"),
        ("http://h:0x1/", "bad_url"),
    ],
)
def test_bad_urls(url: str, kind: str) -> None:
    err = run(fetch_error(url))
    assert err.kind == kind


# --- concurrency -----------------------------------------------------------------------------


def test_per_host_and_global_concurrency_limits() -> None:
    active = peak = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return web.Response(body=FEED)

    async def go() -> None:
        async with serve({"/feed": slow}) as (base, seen):
            s = settings(per_host_concurrency=2, total_timeout=0.25)
            async with Fetcher(s) as fetcher:
                # 16 × 50 ms at 2 at a time takes ~0.4 s overall, yet each request must finish
                # within its own 0.25 s: time spent queued must not count against it.
                results = await asyncio.gather(*(fetcher.get(f"{base}/feed") for _ in range(16)))
            assert all(r.body == FEED for r in results)
            assert len(seen) == 16

    run(go())
    assert peak == 2


def test_closed_fetcher_refuses_work() -> None:
    async def go() -> None:
        fetcher = Fetcher(settings())
        await fetcher.close()
        with pytest.raises(RuntimeError):
            await fetcher.get("http://127.0.0.1:1/")

    run(go())


def test_settings_validation() -> None:
    with pytest.raises(ValueError):
        FetchSettings(user_agent="")
    with pytest.raises(ValueError):
        FetchSettings(user_agent=UA, concurrency=0)
    with pytest.raises(ValueError):
        FetchSettings(user_agent=UA, total_timeout=0)
