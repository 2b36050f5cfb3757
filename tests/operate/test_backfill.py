"""`monitor backfill` as a user runs it, against SYNTHETIC outlet archives on loopback."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.archive import (
    ROUTES,
    ArchiveMirror,
    Story,
    build_pages,
    days_ago,
    midnight,
    mirror_sources,
    stories,
)
from tests.conftest import REPO, SmtpServer, write_config

OUTLETS = ["japantimes", "ddnews", "orf"]
_TZ = {"japantimes": "Asia/Tokyo", "orf": "Asia/Kolkata"}


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}


def command(cfg: Path, db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", "--config", str(cfg), "--db", str(db), *args]


def monitor(
    cfg: Path, db: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(cfg, db, *args), capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env=env(),
    )  # fmt: skip


def backfill_json(cfg: Path, db: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    proc = monitor(cfg, db, "backfill", "--json", *args)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def stored(db: Path) -> list[dict[str, Any]]:
    """Every stored article, straight from the SQLite file."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(
            "SELECT source_id, url, title, published_at, ingest_mode FROM article"
        ).fetchall()
    finally:
        conn.close()
    return [dict(r) for r in rows]


def wait_for_pages(
    mirror: ArchiveMirror, outlet: str, pages: int, proc: subprocess.Popen[Any]
) -> None:
    """Until the backfill in proc has requested `pages` listing pages of the outlet's route."""
    deadline = time.monotonic() + 60
    while len(mirror.listing_requests(ROUTES[outlet])) < pages:
        assert proc.poll() is None, "the backfill ended before it was interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)


def stored_when_ready(db: Path) -> list[dict[str, Any]]:
    """stored(), or nothing while the daemon has not created the schema yet."""
    try:
        return stored(db) if db.exists() else []
    except sqlite3.OperationalError:
        return []


def published(story: Story) -> datetime:
    """The date the spider reads off the page: JT and ORF show a day only (JST / IST)."""
    tz = _TZ.get(story.outlet)
    if tz is None:
        return story.published
    local = story.published.astimezone(ZoneInfo(tz))
    return datetime(local.year, local.month, local.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def expected_urls(
    base_url: str,
    archive: dict[str, list[Story]],
    since: datetime,
    until: datetime | None = None,
) -> set[str]:
    return {
        base_url + s.path
        for items in archive.values()
        for s in items
        if s.relevant and published(s) >= since and (until is None or published(s) <= until)
    }


@pytest.fixture
def archive() -> dict[str, list[Story]]:
    """Two years of every outlet, one article every 2.5 days (about 290 per outlet)."""
    return {o: stories(o) for o in OUTLETS}


@pytest.fixture
def mirror(archive: dict[str, list[Story]]) -> Iterator[ArchiveMirror]:
    m = ArchiveMirror()
    for outlet, items in archive.items():
        m.pages.update(build_pages(outlet, items))
    m.start()
    yield m
    m.close()


def config(tmp_path: Path, mirror: ArchiveMirror, outlets: list[str] = OUTLETS,
           delay: float = 0.0, **overrides: Any) -> Path:  # fmt: skip
    return write_config(
        tmp_path / "feeds.yaml", mirror_sources(mirror.base_url, outlets, delay), **overrides
    )


# Dates relative to the archive's NOW (the machine's clock), as --since/--until take them.
TWO_YEARS = days_ago(729)  # the archive holds 730 days
SINCE_DAY = days_ago(175)
SINCE = midnight(SINCE_DAY)
UNTIL_DAY = days_ago(84)
RECENT_DAY = days_ago(83)
YEAR_DAY = days_ago(365)
LONG = days_ago(312)  # about ten listing pages per outlet


def test_backfill_fills_two_years_once_across_outlets(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]]
) -> None:
    cfg, db = config(tmp_path, mirror), tmp_path / "m.db"
    code, reports, err = backfill_json(cfg, db, "--since", TWO_YEARS)
    assert code == 0, err
    assert {r["source"]: r["state"] for r in reports} == dict.fromkeys(OUTLETS, "done")
    rows = stored(db)
    urls = [r["url"] for r in rows]
    assert len(urls) == len(set(urls))
    assert set(urls) == expected_urls(mirror.base_url, archive, midnight(TWO_YEARS))
    assert len(urls) > 500
    assert {r["ingest_mode"] for r in rows} == {"backfill"}
    assert sum(r["new"] for r in reports) == len(rows)
    assert "database is locked" not in err

    # Run again: every route is covered by its checkpoint; no listing page is fetched again.
    mirror.requests.clear()
    code, again, err = backfill_json(cfg, db, "--since", days_ago(540))
    assert code == 0, err
    assert {r["state"] for r in again} == {"covered"}
    assert [r for r in mirror.requests if r != "/robots.txt"] == []
    assert len(stored(db)) == len(rows)


def test_walk_stops_at_since_and_skips_out_of_range_urls(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]]
) -> None:
    cfg, db = config(tmp_path, mirror, ["japantimes"]), tmp_path / "m.db"
    code, [report], err = backfill_json(cfg, db, "--since", SINCE_DAY)
    assert code == 0, err
    items = archive["japantimes"]
    # Pages hold 10 articles newest first; the walk ends on the first page entirely before since.
    last_page = next(i // 10 + 1 for i, s in enumerate(items) if i % 10 == 0 and
                     published(s) < SINCE)  # fmt: skip
    listings = mirror.listing_requests(ROUTES["japantimes"])
    assert len(listings) == report["pages"] == last_page
    # JT URLs carry the date: articles older than since by a day or more are never requested.
    old = {s.path for s in items if published(s) < SINCE - timedelta(days=1)}
    assert not old & set(mirror.requests)
    assert report["out_of_range"] >= len([s for s in items[: last_page * 10] if s.path in old])


def test_until_bounds_the_stored_range(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]]
) -> None:
    cfg, db = config(tmp_path, mirror, ["ddnews", "orf"]), tmp_path / "m.db"
    code, _, err = backfill_json(cfg, db, "--since", SINCE_DAY, "--until", UNTIL_DAY)
    assert code == 0, err
    until = midnight(UNTIL_DAY) + timedelta(days=1, microseconds=-1)
    subset = {k: v for k, v in archive.items() if k in ("ddnews", "orf")}
    assert {r["url"] for r in stored(db)} == expected_urls(mirror.base_url, subset, SINCE, until)


def test_dry_run_stores_nothing_but_reports_what_it_would(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]]
) -> None:
    cfg, db = config(tmp_path, mirror, ["orf"]), tmp_path / "m.db"
    code, [report], err = backfill_json(cfg, db, "--since", RECENT_DAY, "--dry-run")
    assert code == 0, err
    want = expected_urls(mirror.base_url, {"orf": archive["orf"]}, midnight(RECENT_DAY))
    assert report["new"] == report["relevant"] == len(want) > 0
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT count(*) FROM article").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM backfill_route").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM seen_item").fetchone() == (0,)
    finally:
        conn.close()
    # The real run afterwards starts from page 1 and stores what the dry run announced.
    code, [real], err = backfill_json(cfg, db, "--since", RECENT_DAY)
    assert code == 0, err
    assert real["new"] == report["new"]


def test_max_pages_pauses_and_the_next_run_resumes_without_refetching(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]]
) -> None:
    cfg, db = config(tmp_path, mirror, ["ddnews"]), tmp_path / "m.db"
    code, [first], err = backfill_json(cfg, db, "--since", SINCE_DAY, "--max-pages", "3")
    assert code == 0, err
    assert first["state"] == "paused" and first["pages"] == 3
    mirror.requests.clear()
    code, [second], err = backfill_json(cfg, db, "--since", SINCE_DAY)
    assert code == 0, err
    assert second["state"] == "done"
    listings = mirror.listing_requests(ROUTES["ddnews"])
    assert listings[0] == ROUTES["ddnews"] + "page/4/"  # resumed after the last finished page
    assert {r["url"] for r in stored(db)} == expected_urls(
        mirror.base_url, {"ddnews": archive["ddnews"]}, SINCE
    )


def test_killed_halfway_then_resumed_gives_the_same_articles_as_one_run(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]]
) -> None:
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    ref_cfg, ref_db = config(reference_dir, mirror), reference_dir / "m.db"
    code, _, err = backfill_json(ref_cfg, ref_db, "--since", LONG)
    assert code == 0, err
    reference = sorted((r["url"], r["title"], r["published_at"]) for r in stored(ref_db))

    # A slow, polite walk (20 ms between requests) killed with SIGKILL after 4 DD News pages.
    cfg, db = config(tmp_path, mirror, delay=0.02), tmp_path / "m.db"
    mirror.requests.clear()
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen(
        command(cfg, db, "backfill", "--since", LONG),
        stdout=subprocess.DEVNULL, stderr=log, cwd=REPO, env=env(),
    )  # fmt: skip
    try:
        wait_for_pages(mirror, "ddnews", 4, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        log.close()
    partial = stored(db)
    assert 0 < len(partial) < len(reference)

    mirror.requests.clear()
    code, reports, err = backfill_json(cfg, db, "--since", LONG)
    assert code == 0, err
    assert {r["state"] for r in reports} == {"done"}
    # Resumed at a checkpoint, not from the first page.
    assert ROUTES["ddnews"] not in mirror.requests
    resumed = sorted((r["url"], r["title"], r["published_at"]) for r in stored(db))
    assert resumed == reference  # same articles, none twice


def test_sigterm_stops_cleanly_and_says_how_to_resume(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]]
) -> None:
    cfg, db = config(tmp_path, mirror, ["orf"], delay=0.02), tmp_path / "m.db"
    proc = subprocess.Popen(
        command(cfg, db, "backfill", "--since", LONG),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env(),
    )  # fmt: skip
    try:
        wait_for_pages(mirror, "orf", 3, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in out and "run the same command again to resume" in out
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (state,) = conn.execute("SELECT state FROM backfill_route").fetchone()
        assert state == "walking"
    finally:
        conn.close()
    code, [report], err = backfill_json(cfg, db, "--since", LONG)
    assert code == 0 and report["state"] == "done", err
    assert {r["url"] for r in stored(db)} == expected_urls(
        mirror.base_url, {"orf": archive["orf"]}, datetime.fromisoformat(LONG).replace(tzinfo=UTC)
    )


def test_articles_already_stored_live_are_kept_once_and_not_refetched(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]]
) -> None:
    # The live spider saw the DD News tag page first: its ten newest articles are stored "live".
    cfg, db = config(tmp_path, mirror, ["ddnews"]), tmp_path / "m.db"
    data = yaml.safe_load(cfg.read_text())
    data["sources"][0]["crawl"] = {"listing_paths": [ROUTES["ddnews"]]}
    data["crawl"] = {"download_delay": 0}
    cfg.write_text(yaml.safe_dump(data))
    proc = monitor(cfg, db, "crawl", "ddnews", "--json")
    assert proc.returncode == 0, proc.stderr
    live = {r["url"] for r in stored(db)}
    assert live
    mirror.requests.clear()
    code, [report], err = backfill_json(cfg, db, "--since", SINCE_DAY)
    assert code == 0, err
    rows = stored(db)
    assert len(rows) == len({r["url"] for r in rows})
    assert {r["url"] for r in rows} == expected_urls(
        mirror.base_url, {"ddnews": archive["ddnews"]}, SINCE
    )
    assert {r["url"] for r in rows if r["ingest_mode"] == "live"} == live
    assert report["skipped"] >= len(live)
    refetched = {mirror.base_url + p for p in mirror.requests} & live
    assert refetched == set()


def test_no_immediate_alerts_and_one_digest_on_request(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]], smtp_server: SmtpServer
) -> None:
    subscribers = [
        {
            "name": "analyst",
            "urls": [smtp_server.url],
            "rules": [{"name": "chips", "query": "semiconductor"}],
        }
    ]
    cfg = config(tmp_path, mirror, ["ddnews"], subscribers=subscribers)
    db = tmp_path / "m.db"
    code, [report], err = backfill_json(cfg, db, "--since", SINCE_DAY)
    assert code == 0, err
    assert report["new"] > 0
    # Nothing was sent, and a dispatch afterwards (what the daemon does) sends nothing either.
    proc = monitor(cfg, db, "poll", "--json")
    assert proc.returncode == 0, proc.stderr
    assert smtp_server.messages == []
    log = json.loads(monitor(cfg, db, "alerts", "log", "--json").stdout)
    assert log and {e["status"] for e in log} == {"suppressed"}
    assert {e["reason"] for e in log} == {"backfill"}

    # --notify-digest: one message for all backfilled matches of the subscriber's rule.
    chips = [s for s in archive["ddnews"] if "semiconductor" in s.title and s.published >= SINCE]
    code, reports, err = backfill_json(cfg, db, "--since", SINCE_DAY, "--notify-digest")
    assert code == 0, err
    assert reports[-1]["digest"]["matches"] == len(chips)
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["Subject"] == f"Backfill: {len(chips)} past India–Japan stories match your rules"
    # Asking again sends nothing more: each match is summarised once.
    code, reports, err = backfill_json(cfg, db, "--since", SINCE_DAY, "--notify-digest")
    assert code == 0, err
    assert reports[-1]["digest"]["matches"] == 0
    assert len(smtp_server.messages) == 1


def test_backfill_beside_the_running_daemon_shares_the_database(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]]
) -> None:
    # The daemon polls a DD News feed every second (writes each time) while ORF is backfilled.
    items = "".join(
        f"<item><title>{s.title}</title><link>{mirror.base_url}{s.path}</link>"
        f"<guid>{mirror.base_url}/en/?p={s.n}</guid><description>{s.lede} {s.body}</description>"
        f"<pubDate>{s.published:%a, %d %b %Y %H:%M:%S +0000}</pubDate></item>"
        for s in archive["ddnews"][:30]
    )
    mirror.pages["/en/feed/"] = (
        f"<?xml version='1.0'?><!-- SYNTHETIC --><rss version='2.0'><channel><title>DD</title>"
        f"{items}</channel></rss>"
    ).encode()
    sources = [
        *mirror_sources(mirror.base_url, ["orf"]),
        {"id": "ddnews", "name": "DD News", "base_url": mirror.base_url, "feeds": ["/en/feed/"],
         "poll_interval": 1, "jitter": 0.1},
    ]  # fmt: skip
    cfg = write_config(tmp_path / "feeds.yaml", sources)
    db = tmp_path / "m.db"
    daemon = subprocess.Popen(
        command(cfg, db, "run"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=REPO, env=env(),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not any(r["source_id"] == "ddnews" for r in stored_when_ready(db)):
            assert daemon.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        code, _, err = backfill_json(cfg, db, "--since", YEAR_DAY)
        daemon.send_signal(signal.SIGTERM)
        _, daemon_err = daemon.communicate(timeout=30)
    finally:
        daemon.kill()
    assert code == 0, err
    assert daemon.returncode == 0, daemon_err
    assert "locked" not in err and "locked" not in daemon_err
    orf = {r["url"] for r in stored(db) if r["source_id"] == "orf"}
    assert orf == expected_urls(mirror.base_url, {"orf": archive["orf"]}, midnight(YEAR_DAY))


def test_dd_archive_end_404_is_the_end_not_a_failure(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]]
) -> None:
    # Since before the archive begins: the walk runs off the last page into WordPress's 404.
    cfg, db = config(tmp_path, mirror, ["ddnews"]), tmp_path / "m.db"
    code, [report], err = backfill_json(cfg, db, "--since", days_ago(6 * 365))
    assert code == 0, err
    assert report["state"] == "done" and report["route_states"] == {ROUTES["ddnews"]: "end"}
    assert report["new"] == len([s for s in archive["ddnews"] if s.relevant])
    # A later, older --since has nothing left to walk.
    mirror.requests.clear()
    code, [again], err = backfill_json(cfg, db, "--since", days_ago(7 * 365))
    assert again["state"] == "covered"
    assert [r for r in mirror.requests if r != "/robots.txt"] == []


def test_failed_listing_page_is_reported_and_retried_next_run(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]]
) -> None:
    cfg, db = config(tmp_path, mirror, ["orf"]), tmp_path / "m.db"
    page3 = "/tags/japan?page=3"
    mirror.errors[page3] = 500  # retried by Scrapy, then given up for this run
    proc = monitor(cfg, db, "backfill", "--since", SINCE_DAY)
    assert proc.returncode == 1
    assert "failed" in proc.stdout and "listing page 3 failed" in proc.stdout
    del mirror.errors[page3]
    mirror.requests.clear()
    code, [report], err = backfill_json(cfg, db, "--since", SINCE_DAY)
    assert code == 0 and report["state"] == "done", err
    assert mirror.listing_requests(ROUTES["orf"])[0] == page3
    assert {r["url"] for r in stored(db)} == expected_urls(
        mirror.base_url, {"orf": archive["orf"]}, SINCE
    )


def test_bad_arguments_are_clear_errors(tmp_path: Path, mirror: ArchiveMirror) -> None:
    # In-process: these fail before any crawling starts.
    from click.testing import CliRunner

    from monitor.cli import cli

    data = mirror_sources(mirror.base_url, ["orf"])
    data.append({"id": "other", "name": "Other", "base_url": mirror.base_url, "feeds": ["/f"]})
    cfg, db = write_config(tmp_path / "feeds.yaml", data), tmp_path / "m.db"

    def backfill(*args: str) -> Any:
        base = ["--config", str(cfg), "--db", str(db), "backfill"]
        return CliRunner().invoke(cli, [*base, *args])

    result = backfill("--since", "last tuesday")
    assert result.exit_code == 2 and "--since" in result.output
    result = backfill("--since", SINCE_DAY, "--until", days_ago(330))
    assert result.exit_code == 2 and "--until" in result.output
    result = backfill("--since", SINCE_DAY, "--source", "other")
    assert result.exit_code == 2 and "has no history routes" in result.output
    result = backfill("--since", SINCE_DAY, "--dry-run", "--notify-digest")
    assert result.exit_code == 2 and "--dry-run stores nothing" in result.output
    assert mirror.requests == []


def test_config_error_in_backfill_section_names_file_line_and_key(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "feeds.yaml",
        [{"id": "orf", "name": "ORF", "base_url": "https://www.orfonline.org",
          "backfill": {"paths": ["tags/japan"]}}],
    )  # fmt: skip
    proc = monitor(cfg, tmp_path / "m.db", "check-config")
    assert proc.returncode == 2
    lines = cfg.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.strip() == "paths:")
    assert f"feeds.yaml:{line}: sources[0].backfill.paths" in proc.stderr
    assert "must start with '/'" in proc.stderr


def test_progress_bars_stay_off_when_not_on_a_terminal(
    tmp_path: Path, mirror: ArchiveMirror
) -> None:
    cfg, db = config(tmp_path, mirror, ["orf"]), tmp_path / "m.db"
    proc = monitor(cfg, db, "--log-level", "WARNING", "backfill", "--since", days_ago(53))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no bar redraws or escape codes in a pipe or the journal
    assert "Backfill" in proc.stdout and "orf" in proc.stdout


def test_every_stored_backfill_row_is_one_story_when_two_routes_overlap(
    tmp_path: Path, mirror: ArchiveMirror, archive: dict[str, list[Story]]
) -> None:
    # DD News lists the same posts under a tag and a category: each page is read once.
    category = "/en/category/international/"
    mirror.pages.update(build_pages("ddnews", archive["ddnews"], route=category))
    sources = mirror_sources(mirror.base_url, ["ddnews"])
    sources[0]["backfill"]["paths"] = [ROUTES["ddnews"], category]
    cfg, db = write_config(tmp_path / "feeds.yaml", sources), tmp_path / "m.db"
    code, _, err = backfill_json(cfg, db, "--since", SINCE_DAY)
    assert code == 0, err
    reads = [p for p in mirror.requests if p.startswith("/en/") and "/page/" not in p
             and p not in (ROUTES["ddnews"], category)]  # fmt: skip
    assert len(reads) == len(set(reads))
    assert {r["url"] for r in stored(db)} == expected_urls(
        mirror.base_url, {"ddnews": archive["ddnews"]}, SINCE
    )


def test_robots_txt_and_the_private_network_guard_hold_during_backfill(
    tmp_path: Path, mirror: ArchiveMirror
) -> None:
    mirror.robots = "User-agent: *\nDisallow: /tags/\n"
    cfg, db = config(tmp_path, mirror, ["orf"]), tmp_path / "m.db"
    proc = monitor(cfg, db, "backfill", "--since", SINCE_DAY)
    assert proc.returncode == 1
    assert "robots.txt" in proc.stdout
    assert [r for r in mirror.requests if r.startswith("/tags/")] == []

    mirror.requests.clear()
    data = yaml.safe_load(cfg.read_text())
    data["fetch"]["allow_private_networks"] = False
    cfg.write_text(yaml.safe_dump(data))
    proc = monitor(cfg, db, "backfill", "--since", SINCE_DAY)
    assert proc.returncode == 1
    assert mirror.requests == []  # not even robots.txt: 127.0.0.1 is refused before connecting
