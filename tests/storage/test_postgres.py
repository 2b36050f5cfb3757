"""PostgreSQL through the same --db URL: the CLI end to end, backups with pg_dump, the extra.

Real processes against the machine's PostgreSQL server (tests/databases.py): each test makes and
drops its own database.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FEEDS, REPO, FeedServer, write_config
from tests.databases import postgres_database
from tests.processes import monitor

DD = {"id": "ddnews", "name": "DD", "base_url": "https://ddnews.gov.in", "feeds": ["/en/feed/"]}


@pytest.fixture
def cfg(tmp_path: Path, feed_server: FeedServer) -> Path:
    feed_server.serve_file("/en/feed/", FEEDS / "ddnews_feed.xml")
    return write_config(tmp_path / "feeds.yaml", [{**DD, "base_url": feed_server.base_url}])


@pytest.fixture
def pg() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def articles(cfg: Path, db: str, *args: str) -> list[dict[str, object]]:
    result = monitor("articles", "--json", *args, config=cfg, db=db)
    assert result.returncode == 0, result.stderr
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def test_every_command_runs_on_postgresql_as_on_sqlite(cfg: Path, pg: str, tmp_path: Path) -> None:
    lite = f"sqlite:///{tmp_path / 'm.db'}"
    for db in (pg, lite):
        polled = monitor("poll", config=cfg, db=db)
        assert polled.returncode == 0, polled.stderr
        again = monitor("poll", "--json", config=cfg, db=db)  # nothing new the second time
        assert sum(s.get("new", 0) for s in json.loads(again.stdout) if "new" in s) == 0
    on_pg, on_lite = articles(cfg, pg), articles(cfg, lite)
    assert on_pg and [a["url"] for a in on_pg] == [a["url"] for a in on_lite]
    for query in ("Japan", "India AND NOT nosuchword", '"prime minister"', "Jap*"):
        assert [a["url"] for a in articles(cfg, pg, "--search", query)] == [
            a["url"] for a in articles(cfg, lite, "--search", query)
        ]
    status = monitor("status", "--json", config=cfg, db=pg)
    assert status.returncode == 0 and "ddnews" in status.stdout


def test_backup_on_postgresql_names_pg_dump_and_a_dump_restores(
    cfg: Path, pg: str, tmp_path: Path
) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore are not installed")
    assert monitor("poll", config=cfg, db=pg).returncode == 0
    refused = monitor("backup", str(tmp_path / "copy.db"), config=cfg, db=pg)
    assert refused.returncode == 2 and "pg_dump -Fc" in refused.stderr
    assert "Traceback" not in refused.stderr
    dump = tmp_path / "monitor.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), pg], check=True, timeout=60)
    with postgres_database() as restored:
        subprocess.run(
            ["pg_restore", "--no-owner", "-d", restored, str(dump)], check=True, timeout=60
        )
        assert articles(cfg, restored) == articles(cfg, pg)
        polled = monitor("poll", "--json", config=cfg, db=restored)  # the copy is in use as is
        assert polled.returncode == 0, polled.stderr
        assert sum(s.get("new", 0) for s in json.loads(polled.stdout) if "new" in s) == 0


def test_a_postgresql_url_without_the_extra_names_it(cfg: Path) -> None:
    # The driver made unimportable in the child, as in an install without '.[postgres]'.
    code = (
        "import sys; sys.modules['psycopg'] = None; sys.modules['psycopg2'] = None; "
        "from monitor.cli import main; "
        f"sys.argv = ['monitor', '--config', {str(cfg)!r}, '--db', "
        "'postgresql://postgres@127.0.0.1/test', 'status']; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "india-japan-monitor[postgres]" in result.stderr and "Traceback" not in result.stderr
