"""What feeds.yaml's syntax cannot show: code that will not import, alert URLs Apprise cannot use,
secrets that no environment or credentials file provides.

Reads: the loaded config, the environment, the credentials file. Writes: nothing.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from monitor.config import LoadedConfig, SourceConfig

# systemd's LoadCredential= makes these files exist only inside the running service.
_SERVICE_CREDENTIALS = ("/run/credentials/",)


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    where: str  # 'FILE:LINE: key.path'
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def needs_spider(source: SourceConfig) -> bool:
    return source.enabled and (
        source.crawl is not None or source.backfill is not None or source.enrich
    )


def check_imports(loaded: LoadedConfig) -> list[Finding]:
    """Every spider a source will run, and the page extractor, import in this installation."""
    findings: list[Finding] = []
    wanted = [
        (loaded.where("sources", i, _spider_key(s)), s)
        for i, s in enumerate(loaded.config.sources)
        if needs_spider(s)
    ]
    if not wanted:
        return findings
    for module in ("monitor.collect.extract", "spiders"):
        problem = _import_problem(module)
        if problem:
            findings.append(Finding("error", wanted[0][0], f"cannot crawl: {problem}"))
            return findings
    from spiders import spider_modules

    known = spider_modules()
    for where, source in wanted:
        if source.id not in known:
            findings.append(
                Finding("error", where, f"no spider for source {source.id!r} in spiders/")
            )
            continue
        problem = _import_problem(f"spiders.{source.id}")
        if problem:
            findings.append(Finding("error", where, f"spider {source.id!r} cannot load: {problem}"))
    return findings


def _spider_key(source: SourceConfig) -> str:
    return "crawl" if source.crawl else ("backfill" if source.backfill else "enrich")


def _import_problem(module: str) -> str | None:
    try:
        importlib.import_module(module)
    except Exception as exc:  # ImportError, or anything a broken dependency raises on import
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"importing {module} failed: {type(exc).__name__}: {first}".rstrip(": ")
    return None


def credentials_path(loaded: LoadedConfig, override: Path | None = None) -> Path | None:
    if override is not None:
        return override
    path = loaded.config.alerts.credentials_file
    return Path(path) if path else None


def check_secrets(
    loaded: LoadedConfig,
    environ: Mapping[str, str] | None = None,
    credentials: Path | None = None,
) -> tuple[list[Finding], dict[str, str] | None]:
    """The credentials file reads, and every ${VAR} in an alert URL has a value.

    Returns the findings and the values (None when they cannot be known here: a systemd
    credential that exists only inside the service).
    """
    from monitor.deliver.destinations import load_credentials, placeholders

    environ = os.environ if environ is None else environ
    path = credentials_path(loaded, credentials)
    where_file = loaded.where("alerts", "credentials_file")
    values: dict[str, str] = {}
    findings: list[Finding] = []
    if path is not None:
        try:
            values = load_credentials(path)
        except FileNotFoundError:
            if credentials is None and str(path).startswith(_SERVICE_CREDENTIALS):
                hint = (
                    f"{path} exists only inside the running service (LoadCredential=); "
                    "check its source with --credentials-file FILE"
                )
                return [Finding("warning", where_file, hint)], None
            return [Finding("error", where_file, f"{path}: no such file")], None
        except (OSError, UnicodeDecodeError) as exc:
            return [Finding("error", where_file, f"{path}: cannot read: {exc}")], None
        except ValueError as exc:
            return [Finding("error", where_file, str(exc))], None
    env = {**environ, **values}
    for key, urls in _destinations(loaded):
        for k, url in enumerate(urls):
            missing = [name for name in placeholders(url) if not env.get(name)]
            for name in dict.fromkeys(missing):
                found_in = f"the environment or {path}" if path else "the environment"
                findings.append(
                    Finding("error", loaded.where(*key, k), f"${{{name}}} is not set in {found_in}")
                )
    token = loaded.config.web.token
    if token is not None and not env.get(token[2:-1]):
        # Only `monitor web` needs it: a warning, so the daemon still starts without it.
        found_in = f"the environment or {path}" if path else "the environment"
        message = f"{token} is not set in {found_in}: `monitor web` will refuse to start"
        findings.append(Finding("warning", loaded.where("web", "token"), message))
    return findings, env


def check_destinations(loaded: LoadedConfig, env: Mapping[str, str] | None) -> list[Finding]:
    """Apprise knows each URL's scheme and, where the secrets are known, can parse the URL."""
    from monitor.deliver.channel import destination_problem

    findings: list[Finding] = []
    for key, urls in _destinations(loaded):
        for k, url in enumerate(urls):
            problem = destination_problem(url, env)
            if problem:
                findings.append(Finding("error", loaded.where(*key, k), problem))
    return findings


def _destinations(loaded: LoadedConfig) -> list[tuple[tuple[str | int, ...], list[str]]]:
    config = loaded.config
    out: list[tuple[tuple[str | int, ...], list[str]]] = [
        (("subscribers", i, "urls"), sub.urls) for i, sub in enumerate(config.subscribers)
    ]
    out.append((("alerts", "operator"), config.alerts.operator))
    return out


def preflight(
    loaded: LoadedConfig,
    environ: Mapping[str, str] | None = None,
    credentials: Path | None = None,
) -> list[Finding]:
    """Everything check-config verifies beyond the file itself, errors first."""
    findings = check_imports(loaded)
    secret_findings, env = check_secrets(loaded, environ, credentials)
    findings += secret_findings
    findings += check_destinations(loaded, env)
    return sorted(findings, key=lambda f: f.level != "error")
