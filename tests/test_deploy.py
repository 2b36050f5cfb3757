"""The systemd unit in deploy/: it verifies, it scores at most 2.0 on `systemd-analyze security`,
and its paths agree with where the monitor looks (state directory, credentials file)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.deliver.destinations import load_credentials
from storage.db import default_db_path

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
UNIT = DEPLOY / "india-japan-monitor.service"
MAX_EXPOSURE = 2.0


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found:
        return found
    message = (
        "systemd-analyze not found: install the 'systemd' package "
        "(Debian/Ubuntu: apt-get install -y systemd); only the tool is used, systemd need not run"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def unit_lines() -> list[str]:
    return UNIT.read_text(encoding="utf-8").splitlines()


def service_settings() -> dict[str, list[str]]:
    """Every KEY=VALUE of the unit (all sections), values in file order."""
    settings: dict[str, list[str]] = {}
    for line in unit_lines():
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def monitor_script() -> Path:
    candidates = [Path(sys.prefix) / "bin" / "monitor"]
    which = shutil.which("monitor")
    if which:
        candidates.append(Path(which))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path.resolve()
    pytest.fail("the `monitor` console script is not installed in this environment")


def test_unit_verifies(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    # verify insists that ExecStart's binary exists: check a copy that runs this venv's script.
    lines = unit_lines()
    exec_index = [i for i, line in enumerate(lines) if line.startswith("ExecStart=")]
    assert len(exec_index) == 1
    assert lines[exec_index[0]] == "ExecStart=/opt/india-japan-monitor/.venv/bin/monitor run"
    copy_lines = list(lines)
    copy_lines[exec_index[0]] = f"ExecStart={monitor_script()} run"
    copy = tmp_path / UNIT.name
    copy.write_text("\n".join(copy_lines) + "\n", encoding="utf-8")
    differing = [
        i
        for i, (a, b) in enumerate(zip(lines, copy.read_text().splitlines(), strict=True))
        if a != b
    ]
    assert differing == exec_index

    result = run(analyze, "verify", "--man=no", str(copy))
    ours = [line for line in result.stderr.splitlines() if UNIT.name in line]
    assert result.returncode == 0, result.stderr
    assert ours == [], result.stderr


def test_unit_security_exposure_at_most_2() -> None:
    analyze = systemd_analyze()
    result = run(analyze, "security", "--offline=true", "--threshold=20", str(UNIT))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", output)
    assert match, output
    assert float(match.group(1)) <= MAX_EXPOSURE, output


def test_unit_settings_match_the_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = service_settings()
    assert settings["Type"] == ["notify"]
    assert settings["NotifyAccess"] == ["main"]
    assert settings["DynamicUser"] == ["yes"]
    assert settings["StateDirectory"] == ["india-japan-monitor"]
    environment = dict(value.partition("=")[::2] for value in settings["Environment"])
    assert environment["MONITOR_CONFIG"] == "/etc/india-japan-monitor/feeds.yaml"
    assert environment["PYTHONDONTWRITEBYTECODE"] == "1"
    # No MONITOR_DB: the default follows $STATE_DIRECTORY, which systemd sets to this path.
    assert "MONITOR_DB" not in environment
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/india-japan-monitor")
    assert default_db_path() == Path("/var/lib/india-japan-monitor/monitor.db")
    # The credential's ID is the file name under /run/credentials/<unit>/ that feeds.yaml names.
    assert settings["LoadCredential"] == ["monitor.env:/etc/india-japan-monitor/monitor.env"]
    text = UNIT.read_text(encoding="utf-8")
    assert f"credentials_file: /run/credentials/{UNIT.name}/monitor.env" in text
    assert f"/run/credentials/{UNIT.name}/monitor.env" in (DEPLOY / "README.md").read_text()


def test_env_example_is_a_credentials_file_without_secrets() -> None:
    values = load_credentials(DEPLOY / "monitor.env.example")
    assert {"SMTP_PASS", "TELEGRAM_TOKEN"} <= set(values)
    assert all(value == "" for value in values.values()), values
