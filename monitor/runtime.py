"""The event loop every command and the daemon run on: asyncio, driven by Twisted's reactor.

Reads/writes: nothing. Scrapy needs Twisted's asyncio reactor installed before anything imports
twisted.internet.reactor; feed polls, crawls and dispatch then share one loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def install_reactor() -> None:
    """Twisted's asyncio reactor; must happen before anything imports twisted.internet.reactor."""
    from scrapy.utils.reactor import install_reactor as scrapy_install
    from scrapy.utils.reactor import is_reactor_installed

    if not is_reactor_installed():
        scrapy_install(REACTOR)


def run_async(main: Callable[[], Coroutine[Any, Any, T]], *, spiders: bool = True) -> T:
    """Run a coroutine on the asyncio loop driven by Twisted's reactor (asyncio.run() would not
    drive Scrapy's downloads: with the reactor installed they silently never complete).
    spiders=False: no page will be crawled, so plain asyncio, without importing Scrapy."""
    if not spiders:
        return asyncio.run(main())
    install_reactor()
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet import reactor as installed
    from twisted.python.failure import Failure

    reactor: Any = installed  # Twisted types the module as a bare interface

    outcome: list[Any] = []

    def start() -> None:
        d = deferred_from_coro(main())
        d.addBoth(finish)

    def finish(result: Any) -> None:
        outcome.append(result)
        reactor.stop()

    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    if not outcome:
        raise RuntimeError("the event loop stopped before the command finished")
    result = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result  # type: ignore[no-any-return]
