"""Log lines: one per event, web text cannot forge another, secrets never printed."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.operate import logs
from monitor.operate.logs import JsonFormatter, KeyValueFormatter, add_secrets, redact_text
from tests.conftest import FeedServer, write_config
from tests.processes import monitor

FORGED = 'India–Japan pact\nlevel=error logger=monitor.daemon msg="daemon stopped"'
# Everything that ends a line somewhere: LF, CR, VT, FF, FS/GS/RS, NEL, LS, PS; plus ESC (terminal
# colours), CSI, and a right-to-left override that would reorder what a reader sees.
BREAKERS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x1b[31m\x9b\u202e"


@pytest.fixture(autouse=True)
def _no_leftover_secrets() -> Iterator[None]:
    yield
    logs._secrets.clear()


def record(msg: str = "article stored", **fields: object) -> logging.LogRecord:
    rec = logging.LogRecord("monitor.pipeline", logging.INFO, __file__, 1, msg, None, None)
    for key, value in fields.items():
        setattr(rec, key, value)
    return rec


def test_key_value_line_cannot_be_forged_by_a_title() -> None:
    title = FORGED + BREAKERS + "end"
    line = KeyValueFormatter().format(record(title=title, source="ddnews"))
    assert len(line.splitlines()) == 1  # str.splitlines knows every line boundary above
    assert line.startswith('level=info logger=monitor.pipeline msg="article stored" title="')
    assert line.count("level=") == 2  # the forged one is inside the quoted title ...
    assert ' title="India–Japan pact\\nlevel=error' in line  # ... escaped, not a new line
    assert all(c.isprintable() for c in line)
    assert line.endswith("source=ddnews")
    # The quoted value is JSON: a reader gets the original title back.
    quoted = line.split(" title=", 1)[1].rsplit(" source=", 1)[0]
    assert json.loads(quoted) == title


def test_json_line_cannot_be_forged_and_round_trips() -> None:
    title = FORGED + BREAKERS + "\U000e0041"  # an invisible tag character outside the BMP
    line = JsonFormatter().format(record(title=title))
    assert len(line.splitlines()) == 1 and all(c.isprintable() for c in line)
    data = json.loads(line)
    assert data["title"] == title and data["level"] == "info" and data["msg"] == "article stored"


def test_secrets_are_redacted_in_fields_messages_and_tracebacks() -> None:
    add_secrets(["credential-value-123", "abc"])  # "abc" is too short to be hidden
    try:
        raise RuntimeError("send to mailtos://ops:credential-value-123@smtp.example.org failed")
    except RuntimeError:
        rec = record(
            "dispatch crashed with token credential-value-123",
            destination="tgram://123456:ABCdefGHI/987654321",
            error="POST https://api.telegram.org/bot123456:ABCdefGHI/sendMessage: 502",
            db="postgresql://monitor:pg-pass-9@db.internal/monitor",
            feed="https://reader:feed-pass@feeds.example.org/rss?token=tok-555&x=1",
        )
        rec.exc_info = sys.exc_info()
    for formatter in (KeyValueFormatter(), JsonFormatter()):
        line = formatter.format(rec)
        for secret in ("credential-value-123", "ABCdefGHI", "pg-pass-9", "feed-pass", "tok-555"):
            assert secret not in line, (secret, line)
        assert "postgresql://monitor:***@db.internal/monitor" in line
        assert "tgram://***" in line and "/bot***/sendMessage" in line
        assert "token=***&x=1" in line
        assert "RuntimeError" in line and len(line.splitlines()) == 1
    assert redact_text("abc and abcdef") == "abc and abcdef"


def test_configured_secret_values_are_registered_for_redaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.config import load_config
    from monitor.deliver.dispatch import secret_environment

    creds = tmp_path / "monitor.env"
    creds.write_text("SMTP_PASS=p@ss/word-42\n", encoding="utf-8")
    monkeypatch.setenv("TG_TOKEN", "777:telegram-secret")
    monkeypatch.setenv("UNRELATED", "not-a-secret-at-all")
    path = write_config(
        tmp_path / "feeds.yaml",
        [{"id": "dd", "name": "DD", "base_url": "https://ddnews.gov.in", "feeds": ["/f/"]}],
        alerts={"credentials_file": str(creds), "operator": ["tgram://${TG_TOKEN}/1"]},
        subscribers=[
            {
                "name": "a",
                "urls": ["mailtos://u:${SMTP_PASS}@smtp.example.org"],
                "rules": [{"name": "all", "query": "India"}],
            }
        ],
    )
    secret_environment(load_config(path).config)
    text = redact_text("p@ss/word-42 p%40ss%2Fword-42 777:telegram-secret not-a-secret-at-all")
    assert text == "*** *** *** not-a-secret-at-all"


def test_a_hostile_title_in_a_real_poll_stays_on_its_line(
    tmp_path: Path, feed_server: FeedServer, db_path: Path
) -> None:
    # The title is escaped for XML, so the feed carries the raw newline and NEL characters.
    title = "India-Japan rail pact\nlevel=error logger=monitor.daemon msg=forged\u2028\x85x"
    xml_title = title.replace("\n", "&#10;").replace("\u2028", "&#8232;").replace("\x85", "&#133;")
    feed_server.serve(
        "/feed/",
        f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>DD</title><link>{feed_server.base_url}/</link>
<item><title>{xml_title}</title><link>{feed_server.base_url}/story-1/</link>
<description>Tokyo and New Delhi sign a Shinkansen agreement.</description>
<pubDate>{feed_server.clock.text("N-1h gmt")}</pubDate></item></channel></rss>""",
    )
    sources = [
        {"id": "ddnews", "name": "DD", "base_url": feed_server.base_url, "feeds": ["/feed/"]}
    ]
    config = write_config(tmp_path / "feeds.yaml", sources)
    result = monitor("poll", config=config, db=db_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith("level=") for line in lines), lines
    assert [line for line in lines if "forged" in line] == [
        line for line in lines if line.startswith('level=info logger=monitor.pipeline msg="article')
    ]
    assert not any(line.startswith("level=error") for line in lines)
    # parse.py already folds a title onto one line; the formatter's quoting is the second guard.
    [stored] = [line for line in lines if "forged" in line]
    assert ' title="India-Japan rail pact level=error logger=monitor.daemon msg=forged ' in stored
