"""Atom feeds out, parsed back with feedparser as a feed reader would: any search and each
sector, titles shown as the text they are, links only to http(s)."""

from __future__ import annotations

from urllib.parse import quote

import feedparser

from tests.web.http import get
from tests.web.site import HOSTILE_TITLE, Corpus, WebProcess


def feed(site: WebProcess, path: str) -> feedparser.FeedParserDict:
    answer = get(site.base + path)
    assert answer.status == 200, answer.text
    assert answer.headers.get_content_type() == "application/atom+xml"
    parsed = feedparser.parse(answer.text)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def test_a_search_feed_holds_what_the_search_finds(site: WebProcess, corpus: Corpus) -> None:
    parsed = feed(site, "/feeds/search.atom?q=" + quote("semicon*") + "&source=ddnews")
    assert [e.link for e in parsed.entries] == ["https://ddnews.gov.in/en/pact-dd/"]
    entry = parsed.entries[0]
    assert entry.title == "India-Japan semiconductor pact signed in New Delhi"
    assert "semiconductors" in [t.term for t in entry.tags]
    assert entry.id.endswith(f"/articles/{corpus.ids['pact-dd']}")
    assert "Search: semicon*" in parsed.feed.title


def test_the_search_page_links_its_own_feed(site: WebProcess) -> None:
    page = get(site.base + "/search?q=rail&sector=infrastructure_rail").text
    assert (
        'type="application/atom+xml" title="This search (Atom)" '
        'href="/feeds/search.atom?q=rail&amp;sector=infrastructure_rail"' in page
    )
    parsed = feed(site, "/feeds/search.atom?q=rail&sector=infrastructure_rail")
    assert [e.title for e in parsed.entries] == [
        "India-Japan Shinkansen high-speed rail corridor reaches Surat"
    ]


def test_a_sector_feed_and_hostile_titles_in_it(site: WebProcess, corpus: Corpus) -> None:
    parsed = feed(site, "/feeds/sectors/semiconductors.atom")
    titles = [e.title for e in parsed.entries]
    # feedparser gives the title as text: the markup it holds is characters, not elements.
    assert titles[0] == HOSTILE_TITLE.replace("\u202e", "")
    assert len(titles) == 3
    hostile = parsed.entries[0]
    assert all(link.href.startswith("http") for link in hostile.links)
    assert "Sector: Semiconductors" in parsed.feed.title
    assert get(site.base + "/feeds/sectors/cricket.atom").status == 404
