"""deploy/README.md's install, run as written into a fresh venv, then the installed monitor crawls.

Reads: deploy/README.md (its Install commands), the checkout, the ORF fixture pages.
Writes: a temporary venv and database, removed afterwards; a line per step on stdout.

`make check-install` (and CI) runs it. The venv keeps the pip its interpreter ships with (no
upgrade), as on a fresh Debian 12 / Python 3.11 host; the package is installed from the checkout
without -e. Then the installed `monitor` must start, pass check-config on the shipped feeds.yaml,
import every module of its packages from outside the checkout, and crawl a loopback ORF mirror
without an import error. It downloads packages from the registry, so it is not part of pytest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import REPO, FeedServer, write_config
from tests.spiders import HTML, PAGES, expected

PREFIX = "/opt/india-japan-monitor"
_IMPORT_ALL = """
import importlib, json, pkgutil, sys
names = []
for package in ("monitor", "spiders", "storage"):
    module = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if info.name != "monitor.__main__":
            importlib.import_module(info.name)
            names.append(info.name)
print(json.dumps({"modules": names, "file": sys.modules["monitor"].__file__}))
"""


def install_commands(readme: Path) -> list[str]:
    """The shell lines of the Install section that build the venv and install the package."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("## Install", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    if block is None:
        raise SystemExit(f"{readme}: no sh block in the Install section")
    lines = [ln.split("#", 1)[0].strip() for ln in block.group(1).splitlines()]
    commands = [ln for ln in lines if ln and f"{PREFIX}/.venv" in ln]
    if not any("-m venv" in c for c in commands) or not any("pip install" in c for c in commands):
        raise SystemExit(f"{readme}: the Install section no longer creates a venv and installs")
    return commands


def step(what: str, command: list[str] | str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    print(f"check-install: {what}", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"check-install: {what} failed (exit {done.returncode})")
    return done  # type: ignore[no-any-return]


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="monitor-install-"))
    # Nothing from the developer's environment may help the install along.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO))
    )
    try:
        for command in install_commands(REPO / "deploy" / "README.md"):
            step(command, command.replace(PREFIX, str(root)), shell=True, cwd=REPO, env=env)
        venv = root / ".venv" / "bin"
        pip = step("pip version", [str(venv / "pip"), "--version"], env=env).stdout.strip()
        print(f"check-install: {pip}")
        work = root / "work"
        work.mkdir()
        step("monitor --help", [str(venv / "monitor"), "--help"], cwd=work, env=env)
        step(
            "check-config on the shipped feeds.yaml",
            [str(venv / "monitor"), "--config", str(REPO / "feeds.yaml"), "check-config"],
            cwd=work,
            env=env,
        )
        command = [str(venv / "python"), "-c", _IMPORT_ALL]
        imported = json.loads(step("import every module", command, cwd=work, env=env).stdout)
        if not imported["file"].startswith(str(root)):
            raise SystemExit(f"check-install: monitor imported from {imported['file']}")
        print(f"check-install: {len(imported['modules'])} modules import")
        crawl_mirror(venv / "monitor", work, env)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("check-install: ok")
    return 0


def crawl_mirror(monitor: Path, work: Path, env: dict[str, str]) -> None:
    server = FeedServer()
    try:
        server.serve(
            "/robots.txt", "User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}
        )
        server.serve_file(
            "/expert-speak", PAGES / "orf" / "listing_expert_speak_p1.html", headers=HTML
        )
        pages = expected("orf", server.clock)["pages"]
        for name, page in pages.items():
            server.serve_file(page["path"], PAGES / "orf" / name, headers=HTML)
        source = {"id": "orf", "name": "ORF", "base_url": server.base_url,
                  "crawl": {"listing_paths": ["/expert-speak"]}}  # fmt: skip
        config = write_config(work / "feeds.yaml", [source], crawl={"download_delay": 0})
        done = step(
            "crawl a loopback ORF mirror",
            [str(monitor), "--config", str(config), "--db", str(work / "m.db"), "crawl", "orf",
             "--json"],
            cwd=work, env=env, timeout=120,
        )  # fmt: skip
    finally:
        server.close()
    report = json.loads(done.stdout)
    wanted = sum(1 for p in pages.values() if p["india_japan"])
    if "Error" in done.stderr or report["new"] != wanted or report["problem"]:
        print(done.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"check-install: crawl stored {report['new']} of {wanted}: {report}")
    print(f"check-install: the crawl stored {report['new']} articles, as expected")


if __name__ == "__main__":
    sys.exit(main())
