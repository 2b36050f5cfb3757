"""Fixtures of the web view's tests: one SYNTHETIC corpus and one `monitor web` per module.

Reads/writes: a temporary directory (feeds.yaml, monitor.db) and a loopback port.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.site import Corpus, WebProcess, build_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def site(corpus: Corpus) -> Iterator[WebProcess]:
    web = WebProcess(corpus)
    yield web
    web.close()
