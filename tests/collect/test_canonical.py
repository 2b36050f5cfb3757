"""Canonical URLs and the equivalence key used for dedup."""

import pytest

from monitor.collect.canonical import canonical_url, url_hash, url_key


def test_tracking_fragment_host_case_and_port() -> None:
    url = "HTTPS://WWW.JapanTimes.co.jp:443/news/2026/11/20/x/?utm_source=rss&utm_medium=feed#c"
    assert canonical_url(url) == "https://www.japantimes.co.jp/news/2026/11/20/x/"


def test_other_query_parameters_survive_sorted() -> None:
    assert canonical_url("https://ddnews.gov.in/en/?p=42&fbclid=abc&gclid=z") == (
        "https://ddnews.gov.in/en/?p=42"
    )
    assert canonical_url("https://x.org/a?b=2&a=1") == "https://x.org/a?a=1&b=2"


@pytest.mark.parametrize(
    "variant",
    [
        "http://ddnews.gov.in/en/india-japan-talks",
        "https://ddnews.gov.in/en/india-japan-talks/",
        "https://www.ddnews.gov.in/en/india-japan-talks/amp/",
        "https://ddnews.gov.in/en/india-japan-talks/?amp=1&utm_campaign=x",
        "https://DDNEWS.gov.in/en/india-japan-talks#top",
    ],
)
def test_equivalent_links_share_one_key(variant: str) -> None:
    base = "https://ddnews.gov.in/en/india-japan-talks/"
    assert url_key(variant) == url_key(base)
    assert url_hash(variant) == url_hash(base)


def test_different_articles_differ() -> None:
    assert url_hash("https://x.org/a") != url_hash("https://x.org/b")
    assert url_hash("https://x.org/?p=1") != url_hash("https://x.org/?p=2")
