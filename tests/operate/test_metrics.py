"""Metrics registry rendering and the /metrics, /healthz endpoint on a loopback port."""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import pytest

from monitor.operate.metrics import CONTENT_TYPE, METRICS, Metrics, MetricsServer


def test_render_golden_text() -> None:
    m = Metrics()
    m.describe("app_polls_total", "Polls by source.", "counter")
    m.describe("app_pending", "Waiting rows.", "gauge")
    m.inc("app_polls_total", source="orf", outcome="ok")
    m.inc("app_polls_total", 2, source="ddnews", outcome="ok")
    m.inc("app_polls_total", source="orf", outcome="ok")
    m.inc("app_polls_total", source="orf", outcome="error")
    m.set("app_pending", 7)
    m.set("app_lag_seconds", 0.25)  # not described: TYPE only, no HELP
    assert m.render() == (
        "# TYPE app_lag_seconds gauge\n"
        "app_lag_seconds 0.25\n"
        "# HELP app_pending Waiting rows.\n"
        "# TYPE app_pending gauge\n"
        "app_pending 7\n"
        "# HELP app_polls_total Polls by source.\n"
        "# TYPE app_polls_total counter\n"
        'app_polls_total{outcome="error",source="orf"} 1\n'
        'app_polls_total{outcome="ok",source="ddnews"} 2\n'
        'app_polls_total{outcome="ok",source="orf"} 2\n'
    )
    assert m.value("app_polls_total", source="orf", outcome="ok") == 2.0
    assert m.value("app_polls_total", source="nhk", outcome="ok") is None


def test_label_values_and_help_are_escaped() -> None:
    m = Metrics()
    m.describe("x_total", 'Back\\slash and\nnewline "quoted".', "counter")
    m.inc("x_total", source='a\\b"c\nd')
    assert m.render() == (
        '# HELP x_total Back\\\\slash and\\nnewline "quoted".\n'
        "# TYPE x_total counter\n"
        'x_total{source="a\\\\b\\"c\\nd"} 1\n'
    )


def test_special_values_and_large_numbers() -> None:
    m = Metrics()
    m.set("g_inf", float("inf"))
    m.set("g_nan", float("nan"))
    m.set("g_neg", float("-inf"))
    m.set("g_ts", 1767225600.5)
    m.set("g_big", 1e20)
    lines = [line for line in m.render().splitlines() if not line.startswith("#")]
    assert lines == ["g_big 1e+20", "g_inf +Inf", "g_nan NaN", "g_neg -Inf", "g_ts 1767225600.5"]


def test_misuse_is_refused() -> None:
    m = Metrics()
    with pytest.raises(ValueError, match="_total"):
        m.inc("polls")
    with pytest.raises(ValueError, match="_total"):
        m.describe("polls", "x", "counter")
    with pytest.raises(ValueError, match="must not end"):
        m.set("polls_total", 1)
    with pytest.raises(ValueError, match="grow"):
        m.inc("polls_total", -1)
    m.inc("polls_total", source="a")
    with pytest.raises(ValueError, match="labels"):
        m.inc("polls_total", feed="a")
    with pytest.raises(ValueError, match="invalid label"):
        m.set("g", 1, __reserved="x")
    with pytest.raises(ValueError, match="invalid metric name"):
        m.set("bad-name", 1)


def test_default_registry_is_described_with_fixed_labels() -> None:
    text = METRICS.render()
    for name, kind in [
        ("monitor_polls_total", "counter"),
        ("monitor_fetch_errors_total", "counter"),
        ("monitor_articles_total", "counter"),
        ("monitor_crawls_total", "counter"),
        ("monitor_deliveries_total", "counter"),
        ("monitor_deliveries_pending", "gauge"),
        ("monitor_last_success_timestamp_seconds", "gauge"),
        ("monitor_scheduler_lag_seconds", "gauge"),
        ("monitor_scheduler_heartbeat_timestamp_seconds", "gauge"),
        ("monitor_scheduler_heartbeat_age_seconds", "gauge"),
    ]:
        assert f"# TYPE {name} {kind}\n" in text
        assert f"# HELP {name} " in text
    # A wrong label name fails at once instead of creating a second series.
    fresh = Metrics()
    fresh.describe("monitor_polls_total", "x", "counter", labels=("source", "outcome"))
    with pytest.raises(ValueError, match="labels"):
        fresh.inc("monitor_polls_total", source="orf", status="ok")


def test_increments_from_threads_are_not_lost() -> None:
    m = Metrics()

    def work() -> None:
        for _ in range(2000):
            m.inc("n_total", source="s")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert m.value("n_total", source="s") == 16000


def _serve_and_scrape(
    health: list[tuple[bool, str]],
    requests: list[tuple[str, str]],
) -> list[tuple[int, str, str]]:
    """Start a server on port 0, run the requests, stop it; (status, content type, body)."""
    m = Metrics()
    m.describe("monitor_polls_total", "Polls.", "counter")
    m.inc("monitor_polls_total", source="orf", outcome="ok")

    async def main() -> list[tuple[int, str, str]]:
        server = MetricsServer(m, lambda: health[0], port=0)
        port = await server.start()
        assert port > 0 and server.port == port
        out: list[tuple[int, str, str]] = []
        try:
            async with aiohttp.ClientSession() as session:
                for method, path in requests:
                    url = f"http://127.0.0.1:{port}{path}"
                    async with session.request(method, url) as resp:
                        body = await resp.text()
                        out.append((resp.status, resp.headers.get("Content-Type", ""), body))
        finally:
            await server.stop()
            await server.stop()  # idempotent
        return out

    return asyncio.run(main())


def test_server_serves_metrics_and_health() -> None:
    health = [(True, "")]
    results = _serve_and_scrape(
        health,
        [
            ("GET", "/metrics"),
            ("HEAD", "/metrics"),
            ("GET", "/healthz"),
            ("GET", "/"),
            ("GET", "/metrics/extra"),
            ("POST", "/metrics"),
            ("POST", "/nothing"),
        ],
    )
    status, ctype, body = results[0]
    assert status == 200
    assert ctype == CONTENT_TYPE
    assert body == (
        "# HELP monitor_polls_total Polls.\n"
        "# TYPE monitor_polls_total counter\n"
        'monitor_polls_total{outcome="ok",source="orf"} 1\n'
    )
    assert results[1][:2] == (200, CONTENT_TYPE) and results[1][2] == ""
    assert results[2] == (200, "text/plain; charset=utf-8", "ok\n")
    assert results[3][0] == 404
    assert results[4][0] == 404
    assert results[5][0] == 405
    assert results[6][0] == 404


def test_healthz_503_with_reason() -> None:
    results = _serve_and_scrape(
        [(False, "scheduler heartbeat 312 s old\nsecond line")], [("GET", "/healthz")]
    )
    assert results == [
        (503, "text/plain; charset=utf-8", "scheduler heartbeat 312 s old second line\n")
    ]


def test_healthz_503_when_the_check_raises() -> None:
    def broken() -> tuple[bool, str]:
        raise RuntimeError("boom")

    async def main() -> tuple[int, str]:
        server = MetricsServer(Metrics(), broken, port=0)
        port = await server.start()
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/healthz") as resp,
            ):
                return resp.status, await resp.text()
        finally:
            await server.stop()

    assert asyncio.run(main()) == (503, "health check raised RuntimeError\n")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_refuses_non_loopback_host_without_allow_remote(host: str) -> None:
    async def main() -> None:
        server = MetricsServer(Metrics(), lambda: (True, ""), host=host, port=0)
        await server.start()

    with pytest.raises(ValueError, match="allow_remote"):
        asyncio.run(main())


def test_allow_remote_binds_wildcard() -> None:
    async def main() -> int:
        server = MetricsServer(
            Metrics(), lambda: (True, ""), host="0.0.0.0", port=0, allow_remote=True
        )
        port = await server.start()
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/healthz") as resp,
            ):
                return resp.status
        finally:
            await server.stop()

    assert asyncio.run(main()) == 200


def test_localhost_name_is_accepted() -> None:
    async def main() -> None:
        server = MetricsServer(Metrics(), lambda: (True, ""), host="localhost", port=0)
        assert await server.start() > 0
        await server.stop()

    asyncio.run(main())
