"""Start-up matches the command: each command loads only what it uses (Scrapy, Twisted, Apprise
and trafilatura only when a crawl or a send happens), and `monitor --help` lists every command
without importing any of them. Checked on what a child process really imported."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click

from monitor.cli.root import COMMANDS, cli
from tests.conftest import REPO, FeedServer, write_config

HEAVY = ("sqlalchemy", "sqlmodel", "pydantic", "aiohttp", "feedparser", "scrapy", "twisted",
         "apprise", "trafilatura", "apscheduler")  # fmt: skip

# Runs the real entry point, then writes the names of every imported module to a file.
PROBE = """
import atexit, json, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["monitor", *sys.argv[2:]]
from monitor.cli import main
main()
"""

FEED = (
    "<?xml version='1.0'?><rss version='2.0'><channel><title>Synthetic</title><item>"
    "<title>India and Japan sign a semiconductor pact</title><link>https://x.example/a</link>"
    "<description>Tokyo and New Delhi agreed.</description></item></channel></rss>"
)


def imported(tmp_path: Path, *args: str) -> set[str]:
    """The top-level packages `monitor ARGS` imported."""
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        capture_output=True, text=True, env=env, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return {name.split(".")[0] for name in json.loads(out.read_text())}


def test_help_lists_every_command_as_the_command_itself_would(tmp_path: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "monitor", "--help"], capture_output=True, text=True, cwd=REPO
    ).stdout
    for module in {m for modules, _ in COMMANDS.values() for m in modules}:
        importlib.import_module(f"monitor.cli.{module}")
    assert set(cli.commands) == set(COMMANDS), "a command is missing from COMMANDS"
    ctx = click.Context(cli, info_name="monitor")
    # The same help page once every command is loaded, with click's own listing.
    formatter = ctx.make_formatter()
    click.Group.format_commands(cli, ctx, formatter)
    assert formatter.getvalue().strip() in listed


def test_help_imports_none_of_the_heavy_packages(tmp_path: Path) -> None:
    assert imported(tmp_path, "--help") & set(HEAVY) == set()
    assert imported(tmp_path, "poll", "--help") & {"scrapy", "twisted", "apprise"} == set()


def test_poll_status_and_articles_load_no_crawler_and_no_sender(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.serve("/feed", FEED)
    source = {"id": "syn", "name": "Synthetic", "base_url": feed_server.base_url,
              "feeds": ["/feed"]}  # fmt: skip
    cfg = write_config(tmp_path / "feeds.yaml", [source])
    base = ["--config", str(cfg), "--db", str(tmp_path / "m.db")]
    never = {"scrapy", "twisted", "apprise", "trafilatura"}
    poll = imported(tmp_path, *base, "poll")
    assert poll & never == set() and {"aiohttp", "feedparser", "sqlalchemy"} <= poll
    for command in ("status", "articles"):
        assert imported(tmp_path, *base, command) & (never | {"aiohttp", "feedparser"}) == set()
