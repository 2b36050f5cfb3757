"""Bad input gets one clear line and exit 2, never a traceback; nothing is created by mistake."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import FEEDS, REPO, FeedServer, write_config
from tests.processes import monitor

DD = {"id": "ddnews", "name": "DD", "base_url": "https://ddnews.gov.in", "feeds": ["/en/feed/"]}


@pytest.fixture
def cfg(tmp_path: Path, feed_server: FeedServer) -> Path:
    feed_server.serve_file("/en/feed/", FEEDS / "ddnews_feed.xml")
    return write_config(tmp_path / "feeds.yaml", [{**DD, "base_url": feed_server.base_url}])


def clean_failure(result: object, code: int = 2) -> str:
    stderr = getattr(result, "stderr", "")
    assert getattr(result, "returncode", None) == code, stderr
    assert "Traceback" not in stderr
    return str(stderr)


@pytest.mark.parametrize("interval", [("poll_interval", "0.5"), ("dispatch_interval", "0.2")])
def test_an_interval_under_a_second_is_a_config_error(
    tmp_path: Path, interval: tuple[str, str]
) -> None:
    key, value = interval
    if key == "poll_interval":
        path = write_config(tmp_path / "feeds.yaml", [{**DD, key: float(value)}])
        where = "sources[0].poll_interval"
    else:
        path = write_config(tmp_path / "feeds.yaml", [DD], alerts={key: float(value)})
        where = "alerts.dispatch_interval"
    err = clean_failure(monitor("check-config", config=path))
    assert f"{path}:" in err and where in err and "greater than or equal to 1" in err


@pytest.mark.parametrize("query", ['"', "*", "-india", "(", "nosuch AND"])
def test_a_search_that_does_not_parse_names_the_position(
    cfg: Path, tmp_path: Path, query: str
) -> None:
    db = tmp_path / "m.db"
    monitor("check-config", config=cfg, db=db)
    assert monitor("poll", "--source", "ddnews", config=cfg, db=db).returncode in (0, 1)
    err = clean_failure(monitor("articles", "--search", query, config=cfg, db=db))
    assert "--search" in err and "position" in err


@pytest.mark.parametrize("query", ["India-Japan", "nosuchcol:x", "semicon* AND NOT chips"])
def test_searches_in_the_rule_language_are_safe_for_fts(
    cfg: Path, tmp_path: Path, query: str
) -> None:
    db = tmp_path / "m.db"
    monitor("poll", "--source", "ddnews", config=cfg, db=db)
    result = monitor("articles", "--search", query, "--json", config=cfg, db=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("[")


def test_a_search_with_only_negations_is_explained(cfg: Path, tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    monitor("poll", "--source", "ddnews", config=cfg, db=db)
    err = clean_failure(monitor("articles", "--search", "NOT cricket", config=cfg, db=db))
    assert "at least one word" in err


def test_a_relative_date_beyond_the_calendar_is_a_usage_error(cfg: Path, tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    monitor("poll", "--source", "ddnews", config=cfg, db=db)
    err = clean_failure(monitor("articles", "--since", "99999999999d", config=cfg, db=db))
    assert "--since" in err


def test_files_that_are_not_a_monitor_database_are_refused(cfg: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    truncated = tmp_path / "truncated.db"
    good = tmp_path / "good.db"
    assert monitor("poll", "--source", "ddnews", config=cfg, db=good).returncode in (0, 1)
    truncated.write_bytes(good.read_bytes()[:1500])
    folder = tmp_path / "folder"
    folder.mkdir()
    for db in (junk, truncated, folder):
        for command in (["status"], ["poll"], ["articles"]):
            err = clean_failure(monitor(*command, config=cfg, db=db))
            assert "database error" in err and str(db) in err


def test_a_url_with_one_slash_does_not_create_a_file_in_the_current_directory(
    cfg: Path, tmp_path: Path
) -> None:
    err = clean_failure(monitor("poll", config=cfg, db="sqlite:" + str(tmp_path / "x.db")))
    assert "not a database URL" in err and "sqlite:////" in err
    assert not any(p.name.startswith("sqlite:") for p in REPO.iterdir())


@pytest.mark.parametrize("command", [["status"], ["articles"], ["alerts", "log"],
                                     ["rules", "try", "chips"], ["db", "current"]])  # fmt: skip
def test_read_only_commands_never_create_a_database(
    cfg: Path, tmp_path: Path, command: list[str]
) -> None:
    typo = tmp_path / "mistyped" / "monitr.db"
    err = clean_failure(monitor(*command, config=cfg, db=typo))
    assert "no database at" in err
    assert not typo.exists() and not typo.parent.exists()


def test_a_yaml_alias_bomb_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    layers = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    layers += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]"
               for i in range(8)]  # fmt: skip
    path.write_text((REPO / "feeds.yaml").read_text(encoding="utf-8") + "\n" + "\n".join(layers))
    err = clean_failure(monitor("check-config", config=path))
    line = len((REPO / "feeds.yaml").read_text(encoding="utf-8").splitlines()) + 2
    assert f"{path}:{line}: anchors (&a) are not allowed" in err


def test_a_self_referencing_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("loop: &loop\n  - *loop\n")
    err = clean_failure(monitor("check-config", config=path))
    assert f"{path}:1: anchors (&loop) are not allowed" in err


def test_a_database_carrying_a_foreign_trigger_is_refused_and_fails_backup_check(
    cfg: Path, tmp_path: Path
) -> None:
    db = tmp_path / "m.db"
    monitor("poll", "--source", "ddnews", config=cfg, db=db)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TRIGGER evil AFTER INSERT ON fetch_log BEGIN "
            "UPDATE delivery SET state = 'pending'; END"
        )
    checked = monitor("backup", "--check", str(db), config=cfg)
    assert checked.returncode == 1 and "trigger 'evil'" in checked.stdout
    err = clean_failure(monitor("poll", config=cfg, db=db))
    assert "trigger 'evil'" in err and "did not create" in err


def test_a_rewritten_trigger_of_the_monitor_is_refused_too(cfg: Path, tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    monitor("poll", "--source", "ddnews", config=cfg, db=db)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER article_fts_ai")
        conn.execute(
            "CREATE TRIGGER article_fts_ai AFTER INSERT ON article BEGIN DELETE FROM delivery; END"
        )
    err = clean_failure(monitor("status", config=cfg, db=db))
    assert "trigger 'article_fts_ai'" in err
