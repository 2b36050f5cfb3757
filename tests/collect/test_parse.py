"""Golden tests: each synthetic outlet feed parsed, judged and tagged as expected.json says."""

from __future__ import annotations

import json

import pytest

from monitor.collect.parse import FeedParseError, parse_feed
from monitor.config import load_config
from monitor.judge.sort import Judge
from tests.conftest import FEEDS, REPO
from tests.fixture_dates import GOLDEN

NOW = GOLDEN.now  # parse_feed takes its clock as now=; the fixtures' dates are relative to it
EXPECTED = json.loads(GOLDEN.read(FEEDS / "expected.json"))
FEED_FILES = sorted(name for name in EXPECTED if name.endswith(".xml"))


@pytest.fixture(scope="module")
def judge() -> Judge:
    config = load_config(REPO / "feeds.yaml").config
    return Judge(config)


def parse(name: str) -> list:  # type: ignore[type-arg]
    body = GOLDEN.read_bytes(FEEDS / name)
    source = name.split("_")[0]
    return parse_feed(
        body, source_id=source, feed_url=f"https://example.org/{name}", now=NOW
    ).articles


@pytest.mark.parametrize("name", FEED_FILES)
def test_fixture_is_labelled_synthetic(name: str) -> None:
    assert b"SYNTHETIC" in (FEEDS / name).read_bytes()[:400]


@pytest.mark.parametrize("name", FEED_FILES)
def test_relevance_and_sectors_match_golden(name: str, judge: Judge) -> None:
    articles = {a.guid or a.original_url: a for a in parse(name)}
    for item in EXPECTED[name]:
        article = articles.get(item["guid"]) or articles[item["link"]]
        relevant = judge.judge(article)
        assert relevant == item["relevant"], (item["title"], article.relevance_reason)
        if relevant:
            assert sorted(article.sectors) == sorted(item["sectors"]), item["title"]
            for sector, terms in item.get("sector_terms", {}).items():
                assert set(terms) <= set(article.sectors[sector]), (item["title"], sector)


def test_entries_are_normalised() -> None:
    articles = parse("japantimes_feed.xml")
    for article in articles:
        assert "utm_" not in article.url and "#" not in article.url
        assert "<" not in article.title and "\n" not in article.title
        assert "<script" not in article.summary.lower()
        assert article.published_at.tzinfo is not None
        assert article.published_at <= NOW
        assert article.first_seen_at == NOW
    assert any(a.categories for a in articles)
    assert any(a.author for a in articles)


def test_missing_and_future_dates_fall_back_to_first_seen() -> None:
    articles = parse("ddnews_feed.xml") + parse("ddnews_international_feed.xml")
    fallen_back = [a for a in articles if not a.published_from_source]
    assert len(fallen_back) >= 2
    assert all(a.published_at == NOW for a in fallen_back)


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(FeedParseError, match="not"):
        parse_feed(
            GOLDEN.read_bytes(FEEDS / "not_a_feed.html"),
            source_id="x",
            feed_url="https://example.org/",
            now=NOW,
            content_type="text/html",
        )


def test_bytes_are_never_treated_as_a_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "feed.xml"
    secret.write_bytes(GOLDEN.read_bytes(FEEDS / "japantimes_feed.xml"))
    with pytest.raises(FeedParseError):
        parse_feed(str(secret).encode(), source_id="x", feed_url="https://example.org/", now=NOW)


def test_xxe_entity_is_not_expanded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        "<rss version='2.0'><channel><title>t</title><item><title>India-Japan &xxe;</title>"
        "<link>https://example.org/a/</link></item></channel></rss>"
    ).encode()
    result = parse_feed(body, source_id="x", feed_url="https://example.org/", now=NOW)
    assert all("TOP-SECRET" not in a.title + a.summary for a in result.articles)
