"""monitor.collect.extract: golden pages, hostile JSON-LD, date formats and the fallbacks."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import trafilatura

from monitor.collect.dates import parse_date
from monitor.collect.extract import MAX_TEXT, MAX_TITLE, Extracted, extract_article
from spiders import SPIDERS
from tests.conftest import DATA
from tests.fixture_dates import GOLDEN

PAGES = DATA / "pages"
BASE = "http://127.0.0.1:8080"
GOLDEN_PAGES = [
    (outlet, name, exp)
    for outlet in ("japantimes", "ddnews", "orf")
    for name, exp in json.loads(GOLDEN.read(PAGES / outlet / "expected.json"))["pages"].items()
]


def read(outlet: str, name: str) -> str:
    return GOLDEN.read(PAGES / outlet / name)


def wrap(head: str = "", body: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def ld(obj: Any) -> str:
    # as sites do: "</" inside a script must not close it
    data = json.dumps(obj).replace("</", "<\\/")
    return f'<script type="application/ld+json">{data}</script>'


# --- golden pages -------------------------------------------------------------------------


def test_every_fixture_is_labelled_synthetic() -> None:
    files = sorted(PAGES.glob("*/*.html"))
    assert len(files) >= 18
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        # "SYNTHETIC", and the evidence it follows: sources.md or sources-evidence.md and a section
        assert first.startswith("<!-- SYNTHETIC"), path
        assert re.search(r"sources(?:-evidence)?\.md §\d", first), path
    for path in PAGES.glob("*/expected.json"):
        assert json.loads(path.read_text("utf-8"))["synthetic"] is True


@pytest.mark.parametrize(
    ("outlet", "name", "exp"), GOLDEN_PAGES, ids=[f"{o}/{n}" for o, n, _ in GOLDEN_PAGES]
)
def test_golden_page(outlet: str, name: str, exp: dict[str, Any]) -> None:
    got = SPIDERS[outlet].extract(read(outlet, name), BASE + exp["path"])
    assert got.url == exp["canonical"]
    assert got.title == exp["title"]
    assert got.description.startswith(exp["description_start"])
    assert got.published_at == datetime.fromisoformat(exp["published_at"])
    assert got.author == exp["author"]
    assert got.section == exp["section"]
    assert got.keywords == exp["keywords"]
    assert got.site_id == exp["site_id"]
    assert got.method == exp["method"]
    assert got.text.startswith(exp["text_start"])
    assert "\n" not in got.title
    assert len(got.text.split()) > 70


def test_jsonld_page_needs_no_site_rules() -> None:
    html = read("japantimes", "article_semiconductors.html")
    got = extract_article(html, BASE + "/news/x/", default_tz="Asia/Tokyo")
    assert got.method == "jsonld"
    assert got.author == "Kazuaki Nagata, Priya Menon"
    assert got.published_at == datetime(2026, 11, 20, 8, 42, tzinfo=UTC)
    assert got.keywords[:2] == ["India", "semiconductors"]
    assert got.text.split("\n")[0].startswith("Renesas Electronics will share")


def test_no_trafilatura_when_jsonld_or_site_markup_gave_a_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*args: object, **kwargs: object) -> str:
        raise AssertionError("trafilatura called")

    monkeypatch.setattr(trafilatura, "extract", boom)
    jt = SPIDERS["japantimes"]
    assert jt.extract(read("japantimes", "article_semiconductors.html"), BASE).method == "jsonld"
    assert jt.extract(read("japantimes", "article_bears.html"), BASE).method == "site"


# --- JSON-LD shapes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        "{not json",
        '{"@type": "NewsArticle", "headline": "cut off',
        "42",
        "null",
        '["a", 1, null, {"@type": 5}]',
        '{"@type": "NewsArticle", "headline": {"x": 1}, "author": 7, "keywords": {"a": 1},'
        ' "datePublished": ["nope"], "articleBody": ["x"], "description": null,'
        ' "articleSection": 3, "url": {"@id": 1}}',
        '{"@graph": {"@graph": {"@graph": []}}}',
        "[" * 5000 + "]" * 5000,
        '{"@type": "NewsArticle", "datePublished": "0001-01-01T00:00:00+09:00"}',
    ],
)
def test_malformed_jsonld_never_raises(payload: str) -> None:
    html = wrap(
        f'<script type="application/ld+json">{payload}</script>'
        '<meta property="og:title" content="Fallback title">',
        "<h1>Heading</h1><p>Text.</p>",
    )
    got = extract_article(html, BASE + "/a/")
    assert got.title == "Fallback title"
    assert got.published_at is None
    assert isinstance(got.keywords, list)


def test_graph_and_type_lists() -> None:
    html = wrap(
        ld(
            {
                "@context": "https://schema.org",
                "@graph": [
                    {"@type": "WebSite", "name": "Site name"},
                    {"@type": ["ReportageNews", "NewsArticle"], "headline": "From the graph"},
                ],
            }
        )
    )
    assert extract_article(html, BASE).title == "From the graph"


def test_first_article_object_wins_over_other_types() -> None:
    html = wrap(
        ld({"@type": "Organization", "name": "Publisher"})
        + ld([{"@type": "BreadcrumbList"}, {"@type": "BlogPosting", "headline": "Post"}])
    )
    assert extract_article(html, BASE).title == "Post"


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("Kyodo", "Kyodo"),
        ({"@type": "Person", "name": "Aditi Varma"}, "Aditi Varma"),
        ([{"name": "A One"}, {"name": "B Two"}], "A One, B Two"),
        (["A One", {"name": "B Two"}, "A One"], "A One, B Two"),
        ([{"@id": "#person"}, {"name": " "}], None),
        ({"name": "Evil\u202e\nName<script>x</script>"}, "Evil Name"),
    ],
)
def test_author_shapes(author: Any, expected: str | None) -> None:
    html = wrap(ld({"@type": "NewsArticle", "headline": "T", "author": author}))
    assert extract_article(html, BASE).author == expected


def test_keywords_string_or_list() -> None:
    as_string = wrap(ld({"@type": "Article", "keywords": "India, Japan ,, Quad"}))
    assert extract_article(as_string, BASE).keywords == ["India", "Japan", "Quad"]
    as_list = wrap(ld({"@type": "Article", "keywords": ["India", 3, "India", "JIMEX"]}))
    assert extract_article(as_list, BASE).keywords == ["India", "3", "JIMEX"]


def test_not_free_articlebody_is_ignored() -> None:
    html = wrap(
        ld({"@type": "NewsArticle", "isAccessibleForFree": "False", "articleBody": "Hidden."}),
        '<div class="article-body"><p>Open preview.</p></div>',
    )
    got = extract_article(html, BASE, body_selectors=["div.article-body"])
    assert got.text == "Open preview."
    assert got.method == "site"


# --- meta tags and markup -----------------------------------------------------------------


def test_meta_fallbacks() -> None:
    html = wrap(
        '<link rel="canonical" href="/news/2026/11/20/x/">'
        '<meta property="og:title" content="OG &amp; title">'
        '<meta name="description" content="Desc">'
        '<meta name="cXenseParse:jat-credit" content="A One,B Two">'
        '<meta property="article:published_time" content="2026-11-20T09:00:00+09:00">'
        '<meta property="article:section" content="World">'
        '<meta property="article:tag" content="India"><meta property="article:tag" content="Japan">'
        '<meta name="cXenseParse:articleid" content="123">'
    )
    got = extract_article(html, BASE + "/news/2026/11/20/x/?utm_source=rss")
    assert got == Extracted(
        url=BASE + "/news/2026/11/20/x/",
        title="OG & title",
        description="Desc",
        text="",
        author="A One, B Two",
        published_at=datetime(2026, 11, 20, 0, 0, tzinfo=UTC),
        section="World",
        keywords=["India", "Japan"],
        site_id="123",
        method="none",
    )


def test_itemprop_and_time_dates() -> None:
    itemprop = wrap(body='<span itemprop="datePublished" content="2026-11-20">Nov 20</span>')
    got = extract_article(itemprop, BASE, default_tz="Asia/Kolkata")
    assert got.published_at == datetime(2026, 11, 19, 18, 30, tzinfo=UTC)
    timed = wrap(body='<time datetime="2026-11-20T10:00:00Z">yesterday</time>')
    assert extract_article(timed, BASE).published_at == datetime(2026, 11, 20, 10, tzinfo=UTC)


def test_unsafe_canonical_is_ignored() -> None:
    html = wrap(
        '<link rel="canonical" href="javascript:alert(1)">'
        '<meta property="og:url" content="https://www.example.org/story">'
    )
    assert extract_article(html, BASE).url == "https://www.example.org/story"
    assert extract_article(wrap('<link rel="canonical" href="  ">'), BASE).url is None


def test_body_selectors_first_with_text_wins_and_drops_apply() -> None:
    html = wrap(
        body='<div class="empty"> </div><div class="body"><p>One.</p><div class="share">Share'
        "</div><p>Two.</p></div>"
    )
    got = extract_article(html, BASE, body_selectors=[".empty", ".body"], drop_selectors=[".share"])
    assert got.text == "One.\nTwo."
    assert got.method == "site"


def test_trafilatura_fallback_on_unknown_markup() -> None:
    html = read("ddnews", "article_redesign.html")
    got = extract_article(html, BASE + "/en/cabinet-clears-green-hydrogen-hubs-at-three-ports/")
    assert got.method == "trafilatura"
    assert got.text.startswith("The Union Cabinet on Wednesday approved")
    assert "trackPageView" not in got.text
    assert "Privacy policy" not in got.text
    assert got.title == "Cabinet clears green hydrogen hubs at three ports"


def test_empty_and_garbage_pages() -> None:
    for html in ("", "   ", "\x00\x01", "<<<>>>", "<html>"):
        got = extract_article(html, BASE)
        assert got.text == ""
        assert got.method == "none"
        assert got.published_at is None


def test_script_and_style_never_in_text() -> None:
    body = (
        "<div class='story'><p>Visible one.</p><script>var secret = 1;</script>"
        "<style>.x{color:red}</style><noscript>nojs</noscript><p>Visible two.</p></div>"
    )
    got = extract_article(wrap(body=body), BASE, body_selectors=[".story"])
    assert got.text == "Visible one.\nVisible two."
    in_jsonld = wrap(
        ld(
            {
                "@type": "Article",
                "articleBody": "<p>Body</p><script>alert(1)</script><style>p{}</style>",
            }
        )
    )
    assert extract_article(in_jsonld, BASE).text == "Body"
    for outlet, name, exp in GOLDEN_PAGES:
        text = SPIDERS[outlet].extract(read(outlet, name), BASE + exp["path"]).text
        for marker in ("<script", "function", "var ", "{", "window.", "jQuery", "display:none"):
            assert marker not in text, (name, marker)


def test_fields_are_capped_and_single_line() -> None:
    html = wrap(
        ld(
            {
                "@type": "NewsArticle",
                "headline": "Long\ntitle " * 500,
                "articleBody": "word " * 100_000,
            }
        )
    )
    got = extract_article(html, BASE)
    assert len(got.title) == MAX_TITLE
    assert "\n" not in got.title
    assert len(got.text) == MAX_TEXT


# --- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tz", "expected"),
    [
        ("2026-11-20T17:42:00+09:00", "UTC", datetime(2026, 11, 20, 8, 42, tzinfo=UTC)),
        ("2026-11-20T17:42:00+0900", "UTC", datetime(2026, 11, 20, 8, 42, tzinfo=UTC)),
        ("2026-11-20T08:42:00Z", "Asia/Tokyo", datetime(2026, 11, 20, 8, 42, tzinfo=UTC)),
        ("2026-11-22T19:40:11+05:30", "UTC", datetime(2026, 11, 22, 14, 10, 11, tzinfo=UTC)),
        ("2026-11-19T11:05:00", "Asia/Tokyo", datetime(2026, 11, 19, 2, 5, tzinfo=UTC)),
        ("2026-11-19T11:05:00", "Asia/Kolkata", datetime(2026, 11, 19, 5, 35, tzinfo=UTC)),
        ("2026-11-19 11:05", "UTC", datetime(2026, 11, 19, 11, 5, tzinfo=UTC)),
        ("2026-11-20", "Asia/Tokyo", datetime(2026, 11, 19, 15, 0, tzinfo=UTC)),
        ("Nov 23, 2026", "Asia/Kolkata", datetime(2026, 11, 22, 18, 30, tzinfo=UTC)),
        ("November 23 2026", "UTC", datetime(2026, 11, 23, tzinfo=UTC)),
        ("23 Nov 2026", "Asia/Tokyo", datetime(2026, 11, 22, 15, 0, tzinfo=UTC)),
        ("23/11/26 | 22:56", "Asia/Kolkata", datetime(2026, 11, 23, 17, 26, tzinfo=UTC)),
        ("16/06/25 | 22:56", "Asia/Kolkata", datetime(2025, 6, 16, 17, 26, tzinfo=UTC)),
        ("23/11/2026", "UTC", datetime(2026, 11, 23, tzinfo=UTC)),
        ("Mon, 23 Nov 2026 10:00:00 +0000", "Asia/Tokyo", datetime(2026, 11, 23, 10, tzinfo=UTC)),
        ("Sat, 21 Nov 2026 18:45:00 GMT", "UTC", datetime(2026, 11, 21, 18, 45, tzinfo=UTC)),
        ("Sat, 21 Nov 2026 18:45:00 +0530", "UTC", datetime(2026, 11, 21, 13, 15, tzinfo=UTC)),
        ("Expert SpeakPublished on Nov 20, 2026", "Asia/Kolkata",
         datetime(2026, 11, 19, 18, 30, tzinfo=UTC)),
        ("Updated Nov 22, 2026 · Published on Nov 20, 2026", "UTC",
         datetime(2026, 11, 20, tzinfo=UTC)),
        ("Nov 22, 2026 | 3 min read", "UTC", datetime(2026, 11, 22, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_parse_date(value: str, tz: str, expected: datetime) -> None:
    got = parse_date(value, tz)
    assert got == expected
    assert got is not None and got.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "yesterday",
        "31/02/26 | 10:00",
        "Feb 30, 2026",
        "9999-12-31",
        "0001-01-01T00:00:00+09:00",
        "On 23 November, 2007 a delegation visited ORF. " * 5,  # a date inside running text
    ],
)
def test_parse_date_rejects(value: str) -> None:
    assert parse_date(value, "Asia/Kolkata") is None
