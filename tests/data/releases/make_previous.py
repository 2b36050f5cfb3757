"""Makes previous.db: a SYNTHETIC database written by the release before migrations (9e9c538).

Run from a checkout of that release, with its own venv (it uses that release's test helpers):
    git worktree add --detach /tmp/prev 9e9c538 && cd /tmp/prev && make install
    .venv/bin/python /path/to/tests/data/releases/make_previous.py OUT.db
It backfills DD News from the loopback archive mirror (articles, checkpoints, suppressed
deliveries), then polls a feed twice: a silent baseline, then two new stories mailed to a local
SMTP server (sent deliveries with Message-IDs). tests/storage/test_migrations.py upgrades a copy.
"""

from __future__ import annotations

import email.utils
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, os.getcwd())
from tests.archive import ArchiveMirror, build_pages, mirror_sources, stories
from tests.conftest import FeedServer, SmtpServer, write_config


def rss(server: FeedServer, numbers: range) -> str:
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>India-Japan semiconductor pact, part {n}</title>"
        f"<link>{server.base_url}/story-{n}/</link><guid>{server.base_url}/story-{n}/</guid>"
        f"<description>Tokyo and New Delhi agree, step {n}.</description>"
        f"<pubDate>{email.utils.format_datetime(now - timedelta(minutes=n))}</pubDate></item>"
        for n in numbers
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>F</title>{items}</channel></rss>"
    )


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    mirror = ArchiveMirror(pages=build_pages("ddnews", stories("ddnews", days=60))).start()
    feeds, smtp = FeedServer(), SmtpServer()
    feeds.serve("/feed/", rss(feeds, range(3)))
    sources = [
        *mirror_sources(mirror.base_url, ["ddnews"]),
        {"id": "wire", "name": "Wire", "base_url": feeds.base_url, "feeds": ["/feed/"]},
    ]
    sub = {
        "name": "analyst",
        "urls": [smtp.mail_url()],
        "rules": [{"name": "all", "query": "India"}],
    }
    cfg = write_config(
        out.with_suffix(".yaml"), sources, subscribers=[sub], alerts={"fold_threshold": 100}
    )
    run = [sys.executable, "-m", "monitor", "--config", str(cfg), "--db", str(out)]
    subprocess.run([*run, "backfill", "--since", "30d", "--source", "ddnews"], check=True)
    subprocess.run([*run, "poll", "--source", "wire"], check=True)
    feeds.serve("/feed/", rss(feeds, range(5)))
    subprocess.run([*run, "poll", "--source", "wire"], check=True)
    assert smtp.wait_for(1)
    for server in (mirror, feeds, smtp):
        server.close()
    out.with_suffix(".yaml").unlink()


if __name__ == "__main__":
    main()
