"""The README stays true: every command has --help and a row, every feeds.yaml key a line."""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import click
import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from monitor.cli import cli
from monitor.config import Config
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "monitor") -> list[str]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # every command, loaded or not yet
        command = group.get_command(ctx, name)
        assert command is not None, f"{prefix} {name}: listed but not found"
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            out += commands(command, path)
        else:
            out.append(path)
    return out


COMMANDS = commands(cli)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_a_readme_row(command: str) -> None:
    result = CliRunner().invoke(cli, [*command.split()[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    rows = [line for line in README.splitlines() if line.startswith("| `monitor ")]
    assert any(re.match(rf"\| `{re.escape(command)}( |`)", row) for row in rows), (
        f"README.md's command table has no row for `{command}`"
    )


def config_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key feeds.yaml accepts, as the README writes them: sources[].crawl.interval."""
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        inner, suffix = _unwrap(field.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            keys |= config_keys(inner, f"{path}{suffix}.")
        else:
            keys.add(path)
    return keys


def _unwrap(annotation: Any) -> tuple[Any, str]:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _unwrap(args[0])
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], "[]"
    if origin is dict and len(args) == 2:
        value = args[1]
        if isinstance(value, type) and issubclass(value, BaseModel):
            return value, ".<name>"
    return annotation, ""


def documented_keys() -> set[str]:
    """Keys in the README's feeds.yaml table: a row's first key is absolute; a later key with a
    dot hangs off the row's first segment, one without a dot beside the key before it."""
    section = README.split("## feeds.yaml", 1)[1].split("\n## ", 1)[0]
    keys: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        names = re.findall(r"`([^`]+)`", line.split(" | ")[0])
        root = re.match(r"[^.]+(?:\.<name>)?", names[0])
        assert root is not None
        previous = names[0]
        keys.add(previous)
        for name in names[1:]:
            if "." in name:
                previous = f"{root.group(0)}.{name}"
            else:
                previous = f"{previous.rsplit('.', 1)[0]}.{name}" if "." in previous else name
            keys.add(previous)
    return keys


def test_every_feeds_yaml_key_is_documented() -> None:
    missing = sorted(config_keys(Config) - documented_keys())
    assert missing == [], f"README.md's feeds.yaml table does not explain: {missing}"
    stale = sorted(documented_keys() - config_keys(Config))
    assert stale == [], f"README.md's feeds.yaml table names keys that do not exist: {stale}"
