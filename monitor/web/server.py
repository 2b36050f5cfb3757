"""`monitor web`: the aiohttp application (routes, security headers, the access rule) and its
loopback server.

Reads: the config, the database (read-only) and the web token's value. Writes: HTTP responses
and one log line when it listens; never the database.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import ipaddress
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from importlib import resources

from aiohttp import web

from monitor.clock import Clock, utcnow
from monitor.config import Config, is_loopback_host
from monitor.judge.rules import RuleSyntaxError
from monitor.web import api, feeds, pages
from monitor.web.state import STATE, State
from storage.db import Database, QueryTimeout
from storage.fulltext import SearchError

log = logging.getLogger("monitor.web")

# No inline script or style, nothing from another origin, no framing, forms only to here.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_STATIC = {"style.css": "text/css", "local-time.js": "text/javascript"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(
    config: Config, db: Database, *, token: str | None, now: Clock = utcnow
) -> web.Application:
    app = web.Application(middlewares=[_headers, _access, _problems], client_max_size=64 * 1024)
    app[STATE] = State(config=config, db=db, now=now, token=token)
    r = app.router
    r.add_get("/", _home)
    r.add_get("/search", pages.search_page)
    r.add_get("/articles/{id}", pages.article_page)
    r.add_get("/stories", pages.stories_page)
    r.add_get("/stories/{key}", pages.story_page)
    r.add_get("/trends", pages.trends_page)
    r.add_get("/sources", pages.sources_page)
    r.add_get("/rules/try", pages.preview_page)
    r.add_get("/api/articles", api.articles)
    r.add_get("/api/articles/{id}", api.article)
    r.add_get("/api/stories", api.stories)
    r.add_get("/api/stories/{key}", api.story)
    r.add_get("/api/sources", api.sources)
    r.add_get("/api/trends", api.trends)
    r.add_get("/api/openapi.json", api.openapi)
    r.add_get("/feeds/search.atom", feeds.search_feed)
    r.add_get("/feeds/sectors/{sector}.atom", feeds.sector_feed)
    r.add_get("/static/{name}", _static)
    return app


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/search")


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in _STATIC:
        raise web.HTTPNotFound()
    body = resources.files("monitor.web").joinpath("static", name).read_bytes()
    return web.Response(body=body, content_type=_STATIC[name], charset="utf-8")


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    except Exception:
        log.exception("web request failed", extra={"path": request.path})
        response = web.Response(status=500, text="internal error\n")
    response.headers.update(_HEADERS)
    if isinstance(response, web.HTTPException) and response.status >= 400:
        return web.Response(status=response.status, text=response.reason, headers=response.headers)
    return response


def _allowed_host(host: str) -> bool:
    """A Host header naming this machine: a page fetched through another name (DNS rebinding)
    must not read the view."""
    if host.startswith("["):  # [::1]:8765
        name = host[1:].partition("]")[0]
    else:
        name = host.rpartition(":")[0] if host.count(":") == 1 else host
    return is_loopback_host(name)


@web.middleware
async def _access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With web.token: every request carries it (Bearer, or Basic with it as the password).
    Without: the view is this machine's only, so the Host header must name it."""
    token = request.app[STATE].token
    if token is None:
        if not _allowed_host(request.host):
            return web.Response(status=403, text="this view answers requests to localhost only\n")
        return await handler(request)
    if not _carries(request.headers.get("Authorization", ""), token):
        return web.Response(
            status=401,
            text="a token is needed (Authorization: Bearer …)\n",
            headers={"WWW-Authenticate": 'Basic realm="India-Japan News Monitor", charset="UTF-8"'},
        )
    return await handler(request)


def _carries(header: str, token: str) -> bool:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    else:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


@web.middleware
async def _problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A search the index cannot answer is the user's to fix (400); one that runs too long is
    interrupted (503)."""
    json = request.path.startswith(("/api/", "/feeds/"))
    try:
        return await handler(request)
    except (SearchError, RuleSyntaxError) as exc:
        status, message = 400, str(exc)
    except QueryTimeout:
        status, message = 503, "the search took too long; narrow it (fewer OR, a sector, dates)"
    if json:
        return api.json_problem(status, message)
    return pages.problem_page(status, "Cannot search", message)


async def serve(config: Config, db: Database, host: str, port: int, token: str | None) -> None:
    """Serve until SIGTERM or SIGINT."""
    app = make_app(config, db, token=token)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    sock = await _bind(host, port, remote=token is not None)
    try:
        await web.SockSite(runner, sock).start()
        shown = f"[{host}]" if ":" in host else host
        log.info(
            "web view listening",
            extra={
                "url": f"http://{shown}:{sock.getsockname()[1]}/",
                "port": sock.getsockname()[1],
            },
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        sock.close()


async def _bind(host: str, port: int, *, remote: bool) -> socket.socket:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    if not infos:
        raise OSError(f"web host {host!r} does not resolve")
    if not remote:
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if not address.is_loopback:
                raise OSError(f"web host {host!r} is not a loopback address ({address})")
    family, type_, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, type_, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(sockaddr)
    sock.setblocking(False)
    return sock
