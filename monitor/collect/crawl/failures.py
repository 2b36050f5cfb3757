"""Why a spider's request got no usable page, and what a crawl's failures add up to: a failing
site (HTTP errors), an unreachable one (no connection), a blocked one (bot-protection challenge,
robots.txt) or a changed layout. robots.txt answering is not a fetched page.

Reads: Scrapy failures and responses, a spider's CrawlHealth. Writes: nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from monitor.collect.challenge import challenge

if TYPE_CHECKING:
    from spiders.base import CrawlHealth

# http: an HTTP error status; challenge: a bot-protection page; robots: robots.txt disallows the
# URL; network: no answer (DNS, connect, timeout, reset); refused: the private-network guard or
# another request filter; offsite: redirected to another site.
FailureKind = Literal["http", "challenge", "robots", "network", "refused", "offsite", "other"]
# What a crawl's problem is: extraction broken (layout), failing, unreachable or blocked.
ProblemKind = Literal["layout", "failing", "unreachable", "blocked"]


@dataclass(frozen=True)
class PageFailure:
    url: str
    kind: FailureKind
    message: str  # one line, names the URL
    status: int | None = None


@dataclass(frozen=True)
class CrawlProblem:
    kind: ProblemKind
    text: str


def headers_of(response: Any) -> dict[str, str]:
    """A Scrapy response's headers as lower-case str keys and values."""
    try:
        raw = response.headers.to_unicode_dict()
    except AttributeError:
        return {}
    return {str(k).lower(): str(v) for k, v in raw.items()}


def challenged(response: Any) -> PageFailure | None:
    """A response that is a bot-protection challenge (whatever its status), else None."""
    what = challenge(int(response.status), headers_of(response), bytes(response.body or b""))
    if what is None:
        return None
    return PageFailure(
        response.url,
        "challenge",
        f"HTTP {response.status} from {response.url}: {what} (not bypassed)",
        int(response.status),
    )


def page_failure(failure: Any) -> PageFailure:
    """What a Scrapy errback's failure means, in one line naming the URL."""
    from scrapy.exceptions import IgnoreRequest
    from scrapy.spidermiddlewares.httperror import HttpError

    request = getattr(failure, "request", None)
    url = str(getattr(request, "url", "") or "")
    exc = failure.value
    if isinstance(exc, HttpError):
        response = exc.response
        blocked = challenged(response)
        if blocked is not None:
            return blocked
        return PageFailure(url, "http", f"HTTP {response.status} from {url}", response.status)
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, IgnoreRequest):
        if "robots.txt" in text:
            return PageFailure(url, "robots", f"robots.txt disallows {url}")
        if "offsite" in text.lower():
            return PageFailure(url, "offsite", f"{url} redirected off-site ({text})")
        return PageFailure(url, "refused", f"{url} refused: {text}")
    if "not a public address" in text:  # the guarded resolver's refusal, raised as a DNS error
        return PageFailure(url, "refused", f"{url} refused: {text}")
    if _network(failure):
        return PageFailure(url, "network", f"{url}: {type(exc).__name__}: {text}")
    return PageFailure(url, "other", f"{url}: {type(exc).__name__}: {text}")


# Scrapy's own download errors (2.13+); older versions raise the Twisted ones below.
_SCRAPY_NETWORK = (
    "CannotResolveHostError", "DownloadConnectionRefusedError", "DownloadTimeoutError",
    "DownloadFailedError", "ResponseDataLossError",
)  # fmt: skip


def _network(failure: Any) -> bool:
    import scrapy.exceptions
    from twisted.internet import defer
    from twisted.internet import error as net
    from twisted.web.client import ResponseFailed, ResponseNeverReceived

    network: list[type[BaseException]] = [
        net.DNSLookupError, net.ConnectError, net.TimeoutError, net.ConnectionLost,
        net.ConnectionDone, defer.TimeoutError, ResponseFailed, ResponseNeverReceived,
        TimeoutError, OSError,
    ]  # fmt: skip
    network += [
        getattr(scrapy.exceptions, n) for n in _SCRAPY_NETWORK if hasattr(scrapy.exceptions, n)
    ]
    return bool(failure.check(*network))


def _summary(failures: list[PageFailure]) -> str:
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return failures[0].message + more


def crawl_problem(name: str, health: CrawlHealth) -> CrawlProblem | None:
    """Why no listing page could be read, or why the article pages gave nothing, if either."""
    errors = health.listing_errors
    if not health.listing_pages and errors:
        kinds = {e.kind for e in errors}
        kind: ProblemKind
        if kinds <= {"challenge", "robots"}:
            kind = "blocked"
        elif kinds <= {"network"}:
            kind = "unreachable"
        else:
            kind = "failing"
        return CrawlProblem(kind, f"{name}: no listing page could be read: {_summary(errors)}")
    blocked = [e for e in health.article_errors if e.kind in ("challenge", "robots")]
    if blocked and not health.articles:
        return CrawlProblem(
            "blocked", f"{name}: article pages could not be read: {_summary(blocked)}"
        )
    return None
