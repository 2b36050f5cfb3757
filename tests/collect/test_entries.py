"""Splitting feed bodies into entries by bytes: bounds, digests, and every case where the split
must give up (then the body is parsed whole). Fixture feeds are SYNTHETIC (tests/data/feeds)."""

from __future__ import annotations

import json

import feedparser
import pytest

from monitor.collect import entries
from monitor.collect.entries import Record
from tests.conftest import DATA
from tests.fixture_dates import GOLDEN

FEEDS = DATA / "feeds"


def rss(items: str, channel: str = "<title>t</title>", root: str = "<rss version='2.0'>") -> bytes:
    return f"<?xml version='1.0'?>{root}<channel>{channel}{items}</channel></rss>".encode()


def item(n: int, extra: str = "") -> str:
    return f"<item><title>T{n}</title><link>https://x.org/{n}</link>{extra}</item>"


@pytest.mark.parametrize(
    "name",
    [
        "ddnews_feed.xml",
        "ddnews_international_feed.xml",
        "japantimes_feed.xml",
        "japantimes_news_feed.xml",
    ],
)
def test_the_outlets_feeds_split_into_the_entries_feedparser_reads(name: str) -> None:
    body = GOLDEN.read_bytes(FEEDS / name)
    cut = entries.split(body, b"ctx")
    assert cut is not None
    expected = json.loads((FEEDS / "expected.json").read_text())[name]
    assert len(cut.spans) == len(feedparser.parse(body).entries) == len(expected)
    for start, end in cut.spans:
        assert body[start:end].startswith(b"<item") and body[start:end].endswith(b"</item>")


def test_cutting_entries_leaves_the_rest_byte_for_byte() -> None:
    body = rss(item(1) + "\n" + item(2) + "\n" + item(3))
    cut = entries.split(body, b"")
    assert cut is not None
    assert cut.without([1]) == rss(item(1) + "\n\n" + item(3))
    assert [e.title for e in feedparser.parse(cut.without([0, 2])).entries] == ["T2"]


def test_an_entry_digest_follows_its_bytes_and_context_not_the_channel_dates() -> None:
    def digests(body: bytes, context: bytes = b"c") -> list[bytes]:
        cut = entries.split(body, context)
        assert cut is not None
        return cut.digests

    built = "<lastBuildDate>{}</lastBuildDate>"
    base = digests(rss(item(1) + item(2), built.format(GOLDEN.text("N-1d rfc822"))))
    later = digests(rss(item(2) + item(1), built.format(GOLDEN.text("N+0 rfc822"))))
    assert later == base[::-1]  # reordered, a new build date: the same entries
    assert digests(rss(item(1, "<category>x</category>") + item(2)))[0] != base[0]
    assert digests(rss(item(1) + item(2)), b"other rules") != base
    assert digests(rss(item(1) + item(2), "<language>ja</language>")) != base
    xml_base = "<rss version='2.0' xml:base='https://y.org/'>"
    assert digests(rss(item(1) + item(2), root=xml_base)) != base
    namespaced = "<rss version='2.0' xmlns:media='http://search.yahoo.com/mrss/'>"
    assert digests(rss(item(1) + item(2), root=namespaced)) != base


def test_markup_that_only_looks_like_an_entry_is_skipped() -> None:
    body = rss(
        "<!-- <item>commented out</item> -->"
        + item(1, "<description><![CDATA[<p>a </item> inside CDATA</p>]]></description>")
        + item(2, "<description>&lt;item&gt;escaped&lt;/item&gt;</description>")
        + "<?pi <item> ?>"
    )
    cut = entries.split(body, b"")
    assert cut is not None and len(cut.spans) == len(feedparser.parse(body).entries) == 2


def test_rss1_items_are_split_but_its_items_list_is_not_an_entry() -> None:
    body = (
        b"<?xml version='1.0'?><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' "
        b"xmlns='http://purl.org/rss/1.0/'><channel rdf:about='https://x.org/'><title>t</title>"
        b"<items><rdf:Seq><rdf:li resource='https://x.org/1'/></rdf:Seq></items></channel>"
        b"<item rdf:about='https://x.org/1'><title>One</title><link>https://x.org/1</link></item>"
        b"<item rdf:about='https://x.org/2'><title>Two</title><link>https://x.org/2</link></item>"
        b"</rdf:RDF>"
    )
    cut = entries.split(body, b"")
    assert cut is not None and len(cut.spans) == 2


def test_atom_entries_are_split() -> None:
    body = (
        b"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        + f"<title>t</title><updated>{GOLDEN.text('N-1d isoz')}</updated>".encode()
        + b"<entry><id>urn:1</id><title>One</title><link href='https://x.org/1'/></entry>"
        b"<entry><id>urn:2</id><title>Two</title><link href='https://x.org/2'/></entry></feed>"
    )
    cut = entries.split(body, b"")
    assert cut is not None and len(cut.spans) == 2
    assert [e.id for e in feedparser.parse(cut.without([0])).entries] == ["urn:2"]


@pytest.mark.parametrize(
    "body",
    [
        rss(""),  # no entries
        rss("<item><title>a<item>b</item></title></item>"),  # nested
        rss(item(1) + "<item/>"),  # an empty element
        rss(item(1) + "<item><title>never closed</title>"),  # unterminated
        rss(item(1) + "</item>"),  # a stray end tag
        rss(item(1) + "<entry><title>x</title></entry>"),  # items and entries mixed
        rss(item(1), "<!-- a comment never closed"),
        rss(item(1)).decode().encode("utf-16"),  # not ASCII-compatible
        b"<html><body><item>not a feed</item></body></html>",
        b"just text with <item>in it</item>",
    ],
    ids=[
        "empty",
        "nested",
        "self-closing",
        "unterminated",
        "stray-end",
        "mixed",
        "comment",
        "utf16",
        "html",
        "text",
    ],
)
def test_the_split_gives_up_when_it_is_not_certain(body: bytes) -> None:
    assert entries.split(body, b"") is None


def test_records_survive_a_round_trip_and_garbage_is_no_records() -> None:
    records = [
        Record(b"\x01" * 16, entries.short_hash("key"), 0, 1_764_000_000, entries.DUPLICATE),
        Record(b"\x02" * 16, 2**64 - 1, entries.short_hash("g"), None, entries.IRRELEVANT),
        Record(b"\x03" * 16, 0, 0, -86_400, entries.NO_ARTICLE),
    ]
    loaded = entries.load(entries.dump(records))
    assert list(loaded.values()) == records
    assert entries.load(entries.dump(records)[:-1]) == {}
    assert entries.load(None) == entries.load(b"") == {}
    assert entries.short_hash(None) == entries.short_hash("") == 0 != entries.short_hash("x")
