"""check-config catches what would fail later: code that cannot import, unusable alert URLs,
secrets nobody provides, a credentials file that is missing or unreadable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import load_config
from monitor.operate.preflight import preflight
from tests.conftest import REPO, write_config

ORF = {"id": "orf", "name": "ORF", "base_url": "https://www.orfonline.org",
       "crawl": {"listing_paths": ["/expert-speak"]}}  # fmt: skip
DD = {"id": "ddnews", "name": "DD", "base_url": "https://ddnews.gov.in", "feeds": ["/en/feed/"]}


def config_with(tmp_path: Path, urls: list[str], **alerts: Any) -> Path:
    subscriber = {"name": "analyst", "urls": urls, "rules": [{"name": "all", "query": "India"}]}
    return write_config(
        tmp_path / "feeds.yaml", [DD], subscribers=[subscriber], alerts=alerts or {}
    )


def monitor(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | env
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        capture_output=True, text=True, timeout=60, cwd=REPO, env=environ,
    )  # fmt: skip


def line_of(config: Path, needle: str, after: str = "") -> int:
    lines = config.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if after and after in line), 0)
    return next(i for i, line in enumerate(lines[start:], start + 1) if needle in line)


def findings(config: Path, env: dict[str, str], credentials: Path | None = None) -> list[str]:
    return [f"{f.level}: {f}" for f in preflight(load_config(config), env, credentials)]


def test_a_spider_that_cannot_import_fails_check_config_and_run(tmp_path: Path) -> None:
    # The trap of issue 10: pip < 24 installs lxml without html_clean, trafilatura then fails.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "trafilatura.py").write_text(
        'raise ImportError("lxml.html.clean module is now a separate project lxml_html_clean.")\n'
    )
    config = write_config(tmp_path / "feeds.yaml", [DD, ORF])
    for command in (["check-config"], ["--db", str(tmp_path / "m.db"), "run"]):
        done = monitor(config, *command, PYTHONPATH=str(shadow))
        assert done.returncode == 2, done.stderr
        crawl_line = line_of(config, "crawl:", after="id: orf")
        assert f"{config}:{crawl_line}: sources[1].crawl: cannot crawl: importing" in done.stderr
        assert "lxml_html_clean" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "m.db").exists()  # refused before anything was created
    assert monitor(config, "check-config").returncode == 0  # the real installation imports


def test_an_unknown_scheme_is_an_error_naming_the_url_key_and_line(tmp_path: Path) -> None:
    config = config_with(
        tmp_path, ["mailto://127.0.0.1:25?from=m@example.org&to=a@example.org", "mailtoo://x"]
    )
    done = monitor(config, "check-config")
    assert done.returncode == 2
    line = line_of(config, "mailtoo://")
    assert f"{config}:{line}: subscribers[0].urls[1]: Apprise has no plugin for mailtoo://" in (
        done.stderr
    )


def test_a_url_apprise_cannot_parse_is_an_error_without_the_secret(tmp_path: Path) -> None:
    config = config_with(tmp_path, ["tgram://${TG_TOKEN}/12345"])
    [problem] = findings(config, {"TG_TOKEN": "not-a-bot-token-s3cret"})
    assert problem.startswith("error: ") and "subscribers[0].urls[0]: Apprise cannot use" in problem
    assert "s3cret" not in problem
    assert findings(config, {"TG_TOKEN": "123456:AAbbCCdd-EEff"}) == []


def test_an_unset_placeholder_is_an_error_naming_it(tmp_path: Path) -> None:
    config = config_with(tmp_path, ["mailtos://${SMTP_USER}:${SMTP_PASS}@smtp.example.org"])
    [problem] = findings(config, {"SMTP_USER": "monitor"})
    line = line_of(config, "mailtos://")
    assert problem == (
        f"error: {config}:{line}: subscribers[0].urls[0]: ${{SMTP_PASS}} is not set in the "
        "environment"
    )


def test_the_credentials_file_provides_secrets_and_must_be_readable(tmp_path: Path) -> None:
    creds = tmp_path / "monitor.env"
    creds.write_text("SMTP_USER=monitor\nexport SMTP_PASS='p@ss/word'\n")
    url = "mailtos://${SMTP_USER}:${SMTP_PASS}@smtp.example.org?to=a@example.org"
    config = config_with(tmp_path, [url], credentials_file=str(creds))
    assert findings(config, {}) == []
    creds.write_text("SMTP_USER=monitor\n")
    assert "${SMTP_PASS} is not set in the environment or" in findings(config, {})[0]

    missing = config_with(tmp_path, [url], credentials_file=str(tmp_path / "gone.env"))
    [problem] = findings(missing, {})
    line = line_of(missing, "credentials_file")
    assert (
        problem
        == f"error: {missing}:{line}: alerts.credentials_file: {tmp_path}/gone.env: no such file"
    )
    unreadable = config_with(tmp_path, [url], credentials_file=str(tmp_path))  # a directory
    assert "cannot read" in findings(unreadable, {})[0]
    garbled = tmp_path / "garbled.env"
    garbled.write_text("SMTP_USER monitor-secret-value\n")
    bad = config_with(tmp_path, [url], credentials_file=str(garbled))
    [problem] = findings(bad, {})
    assert "garbled.env:1: expected KEY=VALUE" in problem and "secret-value" not in problem


def test_a_systemd_credential_is_a_warning_until_its_source_is_named(tmp_path: Path) -> None:
    url = "mailtos://${SMTP_USER}:${SMTP_PASS}@smtp.example.org?to=a@example.org"
    service = "/run/credentials/india-japan-monitor.service/monitor.env"
    config = config_with(tmp_path, [url], credentials_file=service)
    done = monitor(config, "check-config")
    assert done.returncode == 0, done.stderr
    assert "warning:" in done.stderr and "--credentials-file" in done.stderr
    source = tmp_path / "monitor.env"
    source.write_text("SMTP_USER=monitor\n")
    done = monitor(config, "check-config", "--credentials-file", str(source))
    assert done.returncode == 2 and "${SMTP_PASS} is not set" in done.stderr
    source.write_text("SMTP_USER=monitor\nSMTP_PASS=x\n")
    assert monitor(config, "check-config", "--credentials-file", str(source)).returncode == 0


def test_operator_urls_are_checked_too(tmp_path: Path) -> None:
    config = config_with(tmp_path, ["mailto://127.0.0.1:25?from=m@example.org&to=a@example.org"],
                         operator=["slackk://x/y/z"])  # fmt: skip
    [problem] = findings(config, {})
    assert "alerts.operator[0]: Apprise has no plugin for slackk://" in problem


def test_the_shipped_example_subscribers_pass_when_their_secrets_are_set(tmp_path: Path) -> None:
    # The commented example in feeds.yaml, uncommented, must be a valid configuration.
    lines = (REPO / "feeds.yaml").read_text(encoding="utf-8").splitlines()
    start = lines.index("# subscribers:")
    block = [line.removeprefix("#").removeprefix(" ") for line in lines[start:]]
    example = yaml.safe_load("\n".join(block[: block.index("subscribers: []")]))
    config = write_config(tmp_path / "feeds.yaml", [DD], **example)
    urls = [u for sub in example["subscribers"] for u in sub["urls"]]
    names = {name for u in urls for name in re.findall(r"\$\{(\w+)\}", u)}
    assert findings(config, dict.fromkeys(names, "123456:AAbbCCdd-EEff")) == []
    assert findings(config, {}) != []


@pytest.mark.parametrize("env", [{}, {"UNUSED": "x"}])
def test_no_subscribers_means_nothing_to_check(tmp_path: Path, env: dict[str, str]) -> None:
    assert findings(write_config(tmp_path / "feeds.yaml", [DD]), env) == []
