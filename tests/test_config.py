"""feeds.yaml validation: every mistake names the file, the line and the key path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config
from tests.conftest import REPO

VALID = """\
sources:
  - id: jt
    name: The Japan Times
    base_url: https://www.japantimes.co.jp
    poll_interval: 15m
    feeds: [/feed/, https://www.japantimes.co.jp/news/feed/]
    exclude_urls: ['/video/']
relevance:
  india: [India]
  japan: [Japan]
sectors:
  space:
    label: Space
    terms: [ISRO, JAXA]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value.problems


def test_valid_config_and_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, VALID)).config
    src = cfg.source("jt")
    assert src.poll_interval == 900 and src.jitter_seconds == 90
    assert src.feed_urls == [
        "https://www.japantimes.co.jp/feed/",
        "https://www.japantimes.co.jp/news/feed/",
    ]
    assert cfg.fetch.allow_private_networks is False
    assert cfg.relevance.near_words == 40


def test_shipped_feeds_yaml_is_valid() -> None:
    cfg = load_config(REPO / "feeds.yaml").config
    assert {s.id for s in cfg.sources} == {"japantimes", "ddnews", "orf"}
    assert len(cfg.sectors) >= 10
    assert cfg.fetch.allow_private_networks is False
    orf = cfg.source("orf")
    assert orf.crawl is not None and not orf.feeds


def test_unknown_key_names_line_and_path(tmp_path: Path) -> None:
    text = VALID.replace("    poll_interval: 15m\n", "    poll_interval: 15m\n    feedz: []\n")
    assert problems(tmp_path, text) == [
        f"{tmp_path / 'feeds.yaml'}:6: sources[0].feedz: unknown key"
    ]


def test_wrong_type(tmp_path: Path) -> None:
    text = VALID + "fetch:\n  allow_private_networks: maybe\n"
    [problem] = problems(tmp_path, text)
    assert ":16: fetch.allow_private_networks:" in problem and "boolean" in problem


def test_bad_duration(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, VALID.replace("15m", "fifteen minutes"))
    assert ":5: sources[0].poll_interval: expected a duration" in problem


def test_bad_url_and_bad_regex_reported_together(tmp_path: Path) -> None:
    text = VALID.replace("https://www.japantimes.co.jp\n", "ftp://www.japantimes.co.jp\n").replace(
        "'/video/'", "'(unclosed'"
    )
    found = problems(tmp_path, text)
    assert any(":4: sources[0].base_url: not an http(s) URL" in p for p in found)
    assert any(":7: sources[0].exclude_urls: bad regular expression" in p for p in found)


def test_duplicate_source_id(tmp_path: Path) -> None:
    second = VALID.split("relevance:")[0].replace("sources:\n", "")
    text = VALID.replace("relevance:", second + "relevance:")
    [problem] = problems(tmp_path, text)
    assert ":8: sources[1].id: duplicate source id 'jt'" in problem


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, VALID.replace("    name: The", "    name: A\n    name: The"))
    assert ":4: sources[0].name: duplicate key 'name'" in problem


def test_bad_term_and_missing_section(tmp_path: Path) -> None:
    found = problems(
        tmp_path, VALID.replace("[ISRO, JAXA]", "[ISRO, 'ja*xa']").replace("  japan: [Japan]\n", "")
    )
    assert any("relevance.japan: required key is missing" in p for p in found)
    assert any("sectors.space.terms: '*' is only allowed at the end" in p for p in found)


def test_yaml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "sources: [\n  - id: x\n")
    assert "invalid YAML" in problem and str(tmp_path) in problem
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_metrics_are_off_by_default_and_loopback(tmp_path: Path) -> None:
    metrics = load_config(write(tmp_path, VALID)).config.metrics
    assert (metrics.enabled, metrics.host, metrics.port, metrics.allow_remote) == (
        False,
        "127.0.0.1",
        9464,
        False,
    )
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2", "[::1]"):
        text = VALID + f"metrics:\n  enabled: true\n  host: '{host}'\n  port: 0\n"
        assert load_config(write(tmp_path, text)).config.metrics.host == host.strip("[]")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "metrics.example.org"])
def test_metrics_on_a_non_loopback_host_needs_allow_remote(tmp_path: Path, host: str) -> None:
    text = VALID + f"metrics:\n  enabled: true\n  port: 9464\n  host: '{host}'\n"
    [problem] = problems(tmp_path, text)
    # sources (7) + relevance (3) + sectors (4) = 14 lines, then metrics: enabled, port, host
    assert problem.startswith(f"{tmp_path / 'feeds.yaml'}:18: metrics.host: ")
    assert "not a loopback address" in problem and "metrics.allow_remote" in problem
    allowed = load_config(write(tmp_path, text + "  allow_remote: true\n")).config.metrics
    assert allowed.host == host and allowed.allow_remote


def test_metrics_port_out_of_range(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, VALID + "metrics:\n  port: 70000\n")
    assert ":16: metrics.port: " in problem and "65535" in problem
