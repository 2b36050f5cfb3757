"""`monitor rejudge`: new rules applied to a real SQLite file — what flips is reported, --dry-run
writes nothing, dropped articles stay out, stale remembered keys are judged again when met, and
nothing old alerts."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from monitor.app import build
from monitor.article import Article
from monitor.config import load_config
from monitor.flow import ingest
from storage.db import Database
from storage.sources import sync_sources
from tests.conftest import write_config
from tests.processes import monitor

SOURCE = {"id": "jt", "name": "The Japan Times", "base_url": "https://www.japantimes.co.jp"}
ANALYST = {
    "name": "analyst",
    "urls": ["mailto://monitor:secret@127.0.0.1:9?to=analyst@example.org"],
    "rules": [{"name": "everything"}],
}
NOW = datetime.now(UTC).replace(microsecond=0)

SUMMIT = (
    "Takaichi and Modi agree to widen security ties",
    "The two leaders met in New Delhi and agreed to start an economic security dialogue.",
)
WRAP = (
    "Tokyo stocks close higher as exporters gain",
    "The Nikkei rose 0.8% as a weaker yen lifted exporters.",
)
VISIT = (  # judged irrelevant by the old rules: 'Motegi' was not a term then
    "Motegi heads to New Delhi for strategic dialogue",
    "The foreign minister will meet his Indian counterpart on Monday.",
)


def article(n: int, story: tuple[str, str], hours_old: float) -> Article:
    return Article(
        source_id="jt",
        url=f"https://www.japantimes.co.jp/news/story-{n}/",
        original_url=f"https://www.japantimes.co.jp/news/story-{n}/",
        guid=f"jt-{n}",
        title=story[0],
        summary=story[1],
        text="",
        author=None,
        published_at=NOW - timedelta(hours=hours_old),
        first_seen_at=NOW - timedelta(hours=hours_old),
    )


def old_rules(path: Path) -> Path:
    """Looser, older rules: any 'Nikkei' story counts; Motegi is unknown; fewer sector terms."""
    cfg = write_config(path, [SOURCE], subscribers=[ANALYST])
    data: dict[str, Any] = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    data["relevance"]["bilateral"].append("Nikkei")
    data["relevance"]["japan"] = [t for t in data["relevance"]["japan"] if "Motegi" not in t]
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return cfg


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_rejudge_reports_drops_and_never_alerts_on_old_items(tmp_path: Path) -> None:
    db_file = tmp_path / "monitor.db"
    db = Database(f"sqlite:///{db_file}")
    db.create_schema()
    with db.write() as conn:
        sync_sources(conn, [("jt", "The Japan Times", [])])
    before = old_rules(tmp_path / "old.yaml")
    old_app = build(load_config(before).config, db)
    out = ingest(
        old_app, "jt", [article(1, SUMMIT, 100), article(2, WRAP, 99), article(3, VISIT, 98)], NOW
    )
    assert sorted(a.title for _, a in out.new) == sorted([SUMMIT[0], WRAP[0]])
    deliveries = rows(db_file, "SELECT count(*) FROM delivery")

    after = write_config(tmp_path / "feeds.yaml", [SOURCE], subscribers=[ANALYST])
    dry = monitor("rejudge", "--dry-run", "--json", config=after, db=db_file)
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert (report["judged"], report["kept"], report["dropped"]) == (2, 1, 1)
    assert report["stale_keys"] == 1  # the visit, remembered under the old rules
    [flip] = [f for f in report["flips"] if f["change"] == "dropped"]
    assert flip["title"] == WRAP[0] and "bilateral term 'Nikkei'" in flip["was"]
    assert flip["now"].startswith("only Japan-side terms")
    assert len(rows(db_file, "SELECT id FROM article")) == 2  # a dry run writes nothing

    real = json.loads(monitor("rejudge", "--json", config=after, db=db_file).stdout)
    assert (real["dropped"], real["stale_keys"]) == (1, 1)
    stored = json.loads(monitor("articles", "--json", config=after, db=db_file).stdout)
    assert [a["title"] for a in stored] == [SUMMIT[0]]
    reason = stored[0]["relevance_reason"]
    assert "'Modi'" in reason["text"] and "agree" in reason["text"]
    assert reason["primary_sector"] in stored[0]["sectors"]
    assert rows(db_file, "SELECT count(*) FROM delivery") <= deliveries  # nothing planned
    table = monitor("rejudge", config=after, db=db_file).stdout
    assert "0 dropped" in table and "Nothing old alerts" in table  # the second run: no change

    # The feed still carries all three: the dropped wrap stays out (remembered under the new
    # rules); the forgotten visit is judged again, stored, and being old it does not alert.
    new_app = build(load_config(after).config, db)
    again = ingest(
        new_app, "jt", [article(1, SUMMIT, 100), article(2, WRAP, 99), article(3, VISIT, 98)], NOW
    )
    assert [a.title for _, a in again.new] == [VISIT[0]]
    assert rows(
        db_file,
        "SELECT d.state, d.reason FROM delivery d JOIN article a ON a.id = d.article_id "
        f"WHERE a.title = '{VISIT[0]}'",
    ) == [("suppressed", "older than alerts.max_age")]
