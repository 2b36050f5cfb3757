"""The pages an analyst reads, over real HTTP from `monitor web` on a SYNTHETIC corpus: search
with the rule language and filters, an article whole, its story, and what the view refuses."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from tests.web.http import get
from tests.web.site import Corpus, WebProcess


def page(site: WebProcess, path: str) -> HTMLParser:
    answer = get(site.base + path)
    assert answer.status == 200, answer.text
    return HTMLParser(answer.text)


def result_ids(doc: HTMLParser) -> list[int]:
    return [int(li.attributes["data-id"] or 0) for li in doc.css("li.result")]


def test_search_in_the_rule_language_newest_first_with_terms_marked(
    site: WebProcess, corpus: Corpus
) -> None:
    doc = page(site, "/search?q=" + quote('semicon* AND NOT "high-speed rail"'))
    ids = corpus.ids
    assert result_ids(doc) == [ids["hostile"], ids["pact-dd"], ids["pact-jt"]]
    first = doc.css("li.result")[2]
    assert first.css_first(".outlet").text() == "The Japan Times"
    assert [m.text() for m in first.css("h2 mark, .snippet mark")] == ["semiconductor"] * 2
    assert "semicon*" in first.css_first(".matched").text()
    stamp = first.css_first("time").attributes["datetime"] or ""
    assert stamp == (corpus.now - timedelta(days=3)).isoformat().replace("+00:00", "Z")
    assert "Semiconductors" in [a.text() for a in first.css("a.chip")]


def test_filters_by_sector_source_and_dates(site: WebProcess, corpus: Corpus) -> None:
    ids = corpus.ids
    assert result_ids(page(site, "/search?sector=critical_minerals")) == [ids["minerals"]]
    assert result_ids(page(site, "/search?q=semicon*&source=ddnews")) == [ids["pact-dd"]]
    day = (corpus.now - timedelta(days=20)).date().isoformat()
    assert result_ids(page(site, f"/search?from={day}&to={day}")) == [ids["rail"]]
    week = (corpus.now - timedelta(days=12)).date().isoformat()
    assert result_ids(page(site, f"/search?from={week}&sector=semiconductors")) == [
        ids["hostile"],
        ids["pact-dd"],
        ids["pact-jt"],
    ]


def test_a_query_the_view_cannot_use_is_explained_not_run(site: WebProcess) -> None:
    answer = get(site.base + "/search?q=" + quote('semicon* AND ("<b>'))
    assert answer.status == 400
    problem = HTMLParser(answer.text).css_first("p.problem")
    assert problem is not None and "q:" in problem.text()
    assert "<b>" not in answer.text  # the user's text comes back escaped
    assert get(site.base + "/search?sector=cricket").status == 400
    assert get(site.base + "/search?from=yesterday").status == 400


def test_article_page_says_why_which_sectors_which_story_and_who_was_alerted(
    site: WebProcess, corpus: Corpus
) -> None:
    answer = get(f"{site.base}/articles/{corpus.ids['pact-jt']}")
    doc = HTMLParser(answer.text)
    assert doc.css_first("h1").text() == "India-Japan semiconductor pact signed in New Delhi"
    assert "Gujarat" in doc.css_first(".text").text()
    assert "bilateral term 'India-Japan' in the title" in doc.css_first("p.why").text()
    sectors = {
        tr.css("td")[0].text(): tr.css("td")[1].text() for tr in doc.css("table.sectors tbody tr")
    }
    assert "semiconductor*" in sectors["Semiconductors"]
    story = doc.css("ul.story li")
    assert [li.css_first(".outlet").text() for li in story] == ["DD News"]
    assert story[0].css_first("a").attributes["href"] == f"/articles/{corpus.ids['pact-dd']}"
    alerts = [[td.text() for td in tr.css("td")] for tr in doc.css("table.alerts tbody tr")]
    assert [row[:4] for row in alerts] == [["analyst-delhi", "immediate", "suppressed", "chips"]]
    # Subscriber names only: never a destination, its address or its secret's name.
    for secret in ("mailtos", "smtp.example.org", "secret-analyst", "SMTP_PASS"):
        assert secret not in answer.text


def test_stories_page_lists_stories_of_several_outlets(site: WebProcess) -> None:
    doc = page(site, "/stories")
    items = doc.css("li.story-item")
    assert [i.css_first("h2").text() for i in items] == [
        "India-Japan semiconductor pact signed in New Delhi"
    ]
    assert "The Japan Times, DD News" in items[0].css_first(".meta").text()


def test_story_page_lists_every_outlet_with_its_timeline(site: WebProcess, corpus: Corpus) -> None:
    doc = page(site, f"/articles/{corpus.ids['pact-dd']}")
    whole = doc.css_first('a[href^="/stories/"]').attributes["href"] or ""
    story = page(site, whole)
    rows = [[td.text() for td in tr.css("td")] for tr in story.css("table.timeline tbody tr")]
    assert [r[1] for r in rows] == ["The Japan Times", "DD News"]  # oldest first
    assert get(site.base + "/stories/nosuchstory").status == 404
    assert get(site.base + "/articles/999999").status == 404


def test_hostile_text_is_shown_as_text_everywhere(site: WebProcess, corpus: Corpus) -> None:
    hostile = corpus.ids["hostile"]
    for path in (f"/articles/{hostile}", "/search?q=chip", "/rules/try?q=chip"):
        answer = get(site.base + path)
        doc = HTMLParser(answer.text)
        scripts = doc.css("script")
        assert scripts and all(s.attributes.get("src") == "/static/local-time.js" for s in scripts)
        assert doc.css("img") == []
        assert all(
            not (a.attributes.get("href") or "").lower().startswith("javascript:")
            for a in doc.css("a")
        )
        assert "\u202e" not in answer.text  # the right-to-left override is dropped
        assert '<script>alert("t")</script>' in doc.body.text()  # shown, as text
    title = page(site, f"/articles/{hostile}").css_first("h1").text()
    assert title == '<script>alert("t")</script> India-Japan chip talks gnp.exe'


def test_every_answer_carries_a_strict_content_security_policy(
    site: WebProcess, corpus: Corpus
) -> None:
    for path in ("/search", f"/articles/{corpus.ids['rail']}", "/trends", "/sources",
                 "/rules/try?q=rail", "/api/articles", "/feeds/search.atom?q=rail",
                 "/articles/nope", "/static/style.css"):  # fmt: skip
        answer = get(site.base + path)
        csp = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        if answer.headers.get_content_type() == "text/html":
            doc = HTMLParser(answer.text)
            assert not [s for s in doc.css("script") if s.text().strip()], "inline script"
            assert doc.css("style") == [] and doc.css("[style]") == [], "inline style"


def test_sources_page_is_the_status_table(site: WebProcess) -> None:
    doc = page(site, "/sources")
    rows = {tr.css("td")[0].text(): tr for tr in doc.css("table.sources tbody tr")}
    assert set(rows) == {"The Japan Times (japantimes)", "DD News (ddnews)", "ORF (orf)"}
    assert rows["ORF (orf)"].css_first(".state").text() == "never polled"


def test_rule_preview_shows_what_a_rule_would_have_matched(site: WebProcess) -> None:
    doc = page(site, "/rules/try?q=" + quote('"rare earth" OR Shinkansen'))
    rows = [[td.text() for td in tr.css("td")] for tr in doc.css("table.preview tbody tr")]
    assert [(r[1], r[3]) for r in rows] == [("orf", "rare earth"), ("ddnews", "Shinkansen")]
    assert get(site.base + "/rules/try?q=" + quote("AND OR")).status == 400
