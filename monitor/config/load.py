"""Reads feeds.yaml into a validated Config; every mistake is reported with file, line and key path.

Reads: the YAML file. Writes: nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from monitor.config.base import PathError
from monitor.config.models import Config


class ConfigError(Exception):
    """A feeds.yaml problem; str() is 'FILE:LINE: KEY.PATH: message', one problem per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    path: Path
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict, compare=False)

    def where(self, *key: str | int) -> str:
        """'FILE:LINE: key.path' for a key of the file, for problems found after loading."""
        return f"{self.path}:{_line_for(key, self.lines)}: {format_path(key)}"


# --- YAML with line numbers -------------------------------------------------------------


def _construct(
    node: yaml.Node, path: tuple[str | int, ...], lines: dict[Any, int], loader: yaml.SafeLoader
) -> Any:
    """Build plain Python values from YAML nodes, remembering the line of every key path."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, str | int):
                raise _YamlProblem(key_node.start_mark.line + 1, path, "keys must be strings")
            if key in out:
                raise _YamlProblem(
                    key_node.start_mark.line + 1, (*path, key), f"duplicate key {key!r}"
                )
            out[key] = _construct(value_node, (*path, key), lines, loader)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(child, (*path, i), lines, loader) for i, child in enumerate(node.value)]
    return loader.construct_object(node)


class _YamlProblem(Exception):
    def __init__(self, line: int, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.line = line
        self.path = path


def format_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _line_for(path: tuple[str | int, ...], lines: dict[Any, int]) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: feeds.yaml needs neither, and an alias can blow a small
    file up into gigabytes (or refer to itself) when it is built."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.AliasEvent):
            raise _YamlProblem(line, (), f"aliases (*{event.anchor}) are not allowed")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _YamlProblem(line, (), f"anchors (&{anchor}) are not allowed")
        return super().compose_node(parent, index)


def load_config(path: str | Path) -> LoadedConfig:
    """Parse and validate feeds.yaml; raise ConfigError listing every problem with its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    try:
        root = yaml.compose(text, Loader=_NoAliasLoader)
    except _YamlProblem as exc:
        raise ConfigError([f"{path}:{exc.line}: {exc}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{path}:{line}: invalid YAML: {problem}"]) from None
    if root is None:
        raise ConfigError([f"{path}:1: the file is empty"])
    lines: dict[Any, int] = {}
    try:
        data = _construct(root, (), lines, yaml.SafeLoader(""))
    except _YamlProblem as exc:
        raise ConfigError([f"{path}:{exc.line}: {format_path(exc.path)}: {exc}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: expected a mapping with sources, relevance and sectors"])
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, lines)) from None
    return LoadedConfig(config=config, path=path, lines=lines)


def _describe(exc: ValidationError, path: Path, lines: dict[Any, int]) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, PathError):
            loc = loc + ctx_error.loc
            message = str(ctx_error)
        elif err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        else:
            message = err["msg"].removeprefix("Value error, ")
            if err["type"].endswith("_type") and "input" in err:
                message += f" (got {type(err['input']).__name__} {err['input']!r})"
        problems.append(f"{path}:{_line_for(loc, lines)}: {format_path(loc)}: {message}")
    return problems
