"""Redirects followed by hand: every hop's target passes the private-network guard first.

Reads: HTTP responses of one fetch. Writes: nothing; returns the final FetchResult.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp
from yarl import URL

from monitor.clock import Clock
from monitor.collect.challenge import CHALLENGE_STATUSES, SCAN_BYTES, challenge
from monitor.collect.decode import read_body
from monitor.collect.errors import FetchError, blocked, map_error, secs
from monitor.collect.netguard import BlockedURL, resolve_redirect
from monitor.collect.retry import retry_after
from monitor.config import FetchConfig

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class FetchResult:
    url: str  # final URL after redirects
    status: int  # 200 or 304
    body: bytes  # decompressed; b"" on 304
    content_type: str | None
    etag: str | None
    last_modified: str | None
    elapsed: float  # seconds
    moved_to: str | None = None  # where a permanent redirect (301, 308) from the asked URL led

    @property
    def not_modified(self) -> bool:
        return self.status == 304


async def follow(
    session: aiohttp.ClientSession,
    first: URL,
    headers: dict[str, str],
    cap: int,
    settings: FetchConfig,
    now: Clock,
) -> FetchResult:
    """GET first, then each checked Location, at most settings.max_redirects times."""
    started = time.monotonic()
    current = first
    seen = {str(first)}
    permanent: str | None = None  # the last hop of an unbroken chain of 301/308 from `first`
    chain = True
    for redirects in range(settings.max_redirects + 2):
        try:
            async with session.get(current, headers=headers, allow_redirects=False) as resp:
                step = await _step(resp, current, headers, cap, settings, now, started)
        except FetchError:
            raise
        # OSError covers TimeoutError, ssl.SSLError and ConnectionError.
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise map_error(exc, current, settings) from exc
        if isinstance(step, FetchResult):
            return step if permanent is None else _moved(step, permanent)
        next_url, status = step
        chain = chain and status in (301, 308)
        if chain:
            permanent = next_url
        if redirects + 1 > settings.max_redirects:
            raise FetchError(
                "redirects", f"more than {settings.max_redirects} redirects from {first}",
                url=next_url,
            )  # fmt: skip
        if next_url in seen:
            raise FetchError("redirects", f"redirect loop at {next_url}", url=next_url)
        seen.add(next_url)
        current = URL(next_url)
    raise AssertionError("unreachable: the loop raises after max_redirects")


def _moved(result: FetchResult, permanent: str) -> FetchResult:
    return FetchResult(
        url=result.url, status=result.status, body=result.body,
        content_type=result.content_type, etag=result.etag,
        last_modified=result.last_modified, elapsed=result.elapsed, moved_to=permanent,
    )  # fmt: skip


async def _step(
    resp: aiohttp.ClientResponse,
    current: URL,
    headers: dict[str, str],
    cap: int,
    settings: FetchConfig,
    now: Clock,
    started: float,
) -> FetchResult | tuple[str, int]:
    """One response: the result, or (the checked next URL, the redirect status)."""
    status = resp.status
    if status in _REDIRECT_STATUSES:
        location = resp.headers.get("Location")
        if not location:
            raise FetchError(
                "protocol", f"HTTP {status} without Location from {current}", url=str(current)
            )
        try:
            target = resolve_redirect(str(current), location, settings.allow_private_networks)
        except BlockedURL as exc:
            raise blocked(exc, exc.url or location, f" (redirect from {current})") from exc
        return target, status
    if status == 304:
        return FetchResult(
            url=str(current),
            status=304,
            body=b"",
            content_type=resp.headers.get("Content-Type"),
            etag=resp.headers.get("ETag") or headers.get("If-None-Match"),
            last_modified=resp.headers.get("Last-Modified") or headers.get("If-Modified-Since"),
            elapsed=time.monotonic() - started,
        )
    if 200 <= status < 300:
        _refuse_challenge(resp, status, b"", current)  # its headers may say so (AWS WAF: 202)
        body = await read_body(resp, cap, str(current))
        _refuse_challenge(resp, status, body, current)
        return FetchResult(
            url=str(current),
            status=status,
            body=body,
            content_type=resp.headers.get("Content-Type"),
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
            elapsed=time.monotonic() - started,
        )
    if status in CHALLENGE_STATUSES:
        try:  # only the start of an error page: enough to recognise a challenge
            head = await read_body(resp, min(cap, 4 * SCAN_BYTES), str(current))
        except FetchError:
            head = b""
        _refuse_challenge(resp, status, head, current)
    wait = None
    if status in _RETRY_AFTER_STATUSES:
        wait = retry_after(resp.headers.get("Retry-After"), now())
    message = f"HTTP {status} from {current}"
    if wait is not None:
        message += f" (retry after {secs(wait.total_seconds())})"
    raise FetchError("http", message, url=str(current), status=status, retry_after=wait)


def _refuse_challenge(resp: aiohttp.ClientResponse, status: int, body: bytes, url: URL) -> None:
    """A bot-protection page is a failure of its own kind, whatever its status: the source is
    blocked (not broken), and the monitor never tries to pass the challenge."""
    headers = {k.lower(): v for k, v in resp.headers.items()}
    what = challenge(status, headers, body)
    if what is not None:
        raise FetchError(
            "challenge", f"HTTP {status} from {url}: {what} (not bypassed)", url=str(url),
            status=status,
        )  # fmt: skip
