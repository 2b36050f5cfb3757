"""`monitor sources check` as a subprocess against loopback mirrors of the three outlets: a
working mirror, a stale feed, a challenge page, a changed layout, robots.txt disallowing the
listings, a site nobody answers for. Each gives its verdict, its reason and the exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import DATA, FEEDS, FeedServer, free_port, write_config
from tests.mirrors import HTML, LISTINGS, mirror_outlet
from tests.processes import monitor
from tests.spiders import PAGES

CHALLENGE = (DATA / "pages" / "challenges" / "cloudflare.html").read_bytes()
RSS = {"Content-Type": "application/rss+xml; charset=UTF-8"}
FEED_PATHS = {
    "japantimes": {
        "/news/feed/": "japantimes_news_feed.xml",
        "/feed/topstories/": "japantimes_feed.xml",
    },
    "ddnews": {"/en/feed/": "ddnews_feed.xml"},
    "orf": {},
}
NAMES = {
    "japantimes": "The Japan Times",
    "ddnews": "DD News",
    "orf": "Observer Research Foundation",
}


def mirror(server: FeedServer, robots: str = "User-agent: *\nAllow: /\n") -> None:
    """All three outlets on one loopback server: their feeds, listing and article pages."""
    for outlet in NAMES:
        mirror_outlet(server, outlet, robots=robots)
        for path, fixture in FEED_PATHS[outlet].items():
            server.serve_file(path, FEEDS / fixture)


def sources(server: FeedServer, **backfill: str) -> list[dict[str, Any]]:
    out = []
    for outlet, name in NAMES.items():
        source: dict[str, Any] = {
            "id": outlet,
            "name": name,
            "base_url": server.base_url,
            "feeds": list(FEED_PATHS[outlet]),
            "crawl": {"listing_paths": [LISTINGS[outlet][0]]},
        }
        if outlet in backfill:
            source["backfill"] = {"paths": [backfill[outlet]], "download_delay": 0}
        out.append(source)
    return out


def check(
    tmp_path: Path, srcs: list[dict[str, Any]], *args: str, **overrides: Any
) -> tuple[int, Any]:
    cfg = write_config(tmp_path / "feeds.yaml", srcs, crawl={"download_delay": 0}, **overrides)
    done = monitor("sources", "check", "--json", *args, config=cfg, db=tmp_path / "monitor.db")
    assert done.stdout, done.stderr
    return done.returncode, {r["source"]: r for r in json.loads(done.stdout)}


def test_working_mirrors_of_all_three_outlets(tmp_path: Path, feed_server: FeedServer) -> None:
    mirror(feed_server)
    search = "/search?query=India&section=all&content=all&qsort=newest"
    feed_server.serve_file(search, PAGES / "japantimes" / "listing_search_p1.html", headers=HTML)
    cfg = write_config(
        tmp_path / "feeds.yaml",
        sources(feed_server, japantimes=search, orf="/expert-speak"),
        crawl={"download_delay": 0},
    )
    done = monitor("sources", "check", config=cfg, db=tmp_path / "monitor.db")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for outlet in NAMES:
        assert f"  => {outlet}: works" in lines
    assert lines[-1] == "3 of 3 sources work"
    # one line per URL: every feed, every route, the article pages read from them
    assert any(
        line.split()[:2] == ["works", "feed"] and "/feed/topstories/" in line
        and '"Japan Times latest articles"' in line and "entries" in line and "newest item" in line
        for line in lines
    )  # fmt: skip
    assert any(line.split()[:2] == ["works", "backfill"] and search in line for line in lines)
    assert any(line.split()[:2] == ["works", "listing+backfill"] for line in lines)  # ORF
    assert not (tmp_path / "monitor.db").exists()  # the check stores nothing

    code, got = check(tmp_path, sources(feed_server), "--source", "ddnews")
    assert code == 0 and set(got) == {"ddnews"}
    dd = got["ddnews"]
    assert dd["verdict"] == "works" and dd["reason"] is None
    [feed] = [c for c in dd["checks"] if c["kind"] == "feed"]
    assert feed["status"] == 200 and feed["content_type"].startswith("application/rss+xml")
    assert feed["entries"] > 0 and feed["title"] == "DD News" and feed["newest_age_hours"] < 7 * 24
    [listing] = [c for c in dd["checks"] if c["kind"] == "listing"]
    assert listing["entries"] == 4  # article links on the category page
    articles = [c for c in dd["checks"] if c["kind"] == "article"]
    assert len(articles) == 2  # a few article pages, not the whole listing
    for a in articles:
        assert a["verdict"] == "works" and a["title"] and a["newest_at"] and a["body_chars"] > 200
        assert a["route"] == listing["url"]


def test_a_feed_that_answers_200_with_old_items_is_stale(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    mirror(feed_server)
    frozen = feed_server.clock.render(
        "<?xml version='1.0'?><!-- SYNTHETIC: a DD-style feed frozen for a year -->"
        "<rss version='2.0'><channel><title>DD News</title><item><title>Old news</title>"
        "<link>https://ddnews.gov.in/en/old-news/</link>"
        "<pubDate>{{D-400 08:00:00 rfc822}}</pubDate></item></channel></rss>"
    )
    feed_server.serve("/en/feed/", frozen, headers=RSS)
    feed_server.serve("/en/empty/", "<?xml version='1.0'?><rss version='2.0'><channel><title>DD"
                      "</title></channel></rss>", headers=RSS)  # fmt: skip
    srcs = sources(feed_server)
    srcs[1]["feeds"] = ["/en/feed/", "/en/empty/"]
    code, got = check(tmp_path, srcs)
    assert code == 1
    dd = got["ddnews"]
    assert dd["verdict"] == "stale"
    assert "newest item from" in dd["reason"] and "stale after 7 d" in dd["reason"]
    feeds = {c["url"].removeprefix(feed_server.base_url): c for c in dd["checks"]}
    assert feeds["/en/feed/"]["status"] == 200 and feeds["/en/feed/"]["verdict"] == "stale"
    assert feeds["/en/feed/"]["newest_age_hours"] > 365 * 24
    assert (
        feeds["/en/empty/"]["verdict"] == "stale"
        and "lists no items" in feeds["/en/empty/"]["reason"]
    )
    assert got["japantimes"]["verdict"] == "works" and got["orf"]["verdict"] == "works"
    # feeds.yaml's stale_after is the limit when set
    srcs[1]["feeds"], srcs[1]["stale_after"] = ["/en/feed/"], "1000d"
    code, got = check(tmp_path, srcs)
    assert (code, got["ddnews"]["verdict"]) == (0, "works")


def test_a_challenge_page_is_blocked_never_broken(tmp_path: Path, feed_server: FeedServer) -> None:
    mirror(feed_server)
    cf = {**HTML, "Server": "cloudflare", "cf-mitigated": "challenge"}
    feed_server.serve("/feed/topstories/", CHALLENGE, status=403, headers=cf)
    feed_server.serve(LISTINGS["japantimes"][0], CHALLENGE, status=403, headers=cf)
    feed_server.serve(LISTINGS["orf"][0], CHALLENGE, status=200, headers=HTML)  # even at 200
    code, got = check(tmp_path, sources(feed_server))
    assert code == 1
    jt, orf = got["japantimes"], got["orf"]
    assert jt["verdict"] == "blocked" and orf["verdict"] == "blocked"
    assert "Cloudflare challenge" in jt["reason"] and "not bypassed" in jt["reason"]
    verdicts = {c["url"].removeprefix(feed_server.base_url): c["verdict"] for c in jt["checks"]}
    assert verdicts == {
        "/news/feed/": "works",
        "/feed/topstories/": "blocked",
        "/tag/india/": "blocked",
    }
    assert [c["kind"] for c in orf["checks"]] == ["listing"]  # no article followed from it
    assert got["ddnews"]["verdict"] == "works"
    assert feed_server.hits("/feed/topstories/") == 1  # asked once, no attempt to pass it


def test_a_changed_layout_is_broken(tmp_path: Path, feed_server: FeedServer) -> None:
    mirror(feed_server)
    feed_server.serve_file(LISTINGS["orf"][0], PAGES / "orf" / "listing_changed.html", headers=HTML)
    untitled = "<html><body><div class='entry-content'><p>Body only.</p></div></body></html>"
    feed_server.serve(
        "/en/india-japan-jimex-26-concludes-off-visakhapatnam/", untitled, headers=HTML
    )
    feed_server.serve("/en/mahsr-nhsrcl-completes-350-km-viaduct-bullet-train-corridor/", untitled,
                      headers=HTML)  # fmt: skip
    code, got = check(tmp_path, sources(feed_server))
    assert code == 1
    assert got["orf"]["verdict"] == "broken"
    assert "no article links" in got["orf"]["reason"]
    dd = got["ddnews"]
    assert dd["verdict"] == "broken"
    broken = [c for c in dd["checks"] if c["verdict"] == "broken"]
    assert {c["kind"] for c in broken} == {"article"}
    assert all("no title" in c["reason"] for c in broken)
    assert got["japantimes"]["verdict"] == "works"


def test_robots_txt_disallowing_the_listings_is_blocked_and_obeyed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    mirror(feed_server, robots="User-agent: *\nDisallow: /expert-speak\nDisallow: /en/category/\n")
    code, got = check(tmp_path, sources(feed_server))
    assert code == 1
    for outlet in ("orf", "ddnews"):
        assert got[outlet]["verdict"] == "blocked"
        assert "robots.txt disallows" in got[outlet]["reason"]
    assert got["japantimes"]["verdict"] == "works"
    asked = {path for path, _ in feed_server.requests}
    assert "/robots.txt" in asked
    assert not any(p.startswith(("/expert-speak", "/en/category/")) for p in asked)
    assert "/en/feed/" in asked  # feeds are fetched as polls fetch them


def test_unreachable_site_and_private_network_guard(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    srcs = [
        {"id": "ddnews", "name": "DD News", "base_url": dead, "feeds": ["/en/feed/"],
         "crawl": {"listing_paths": ["/en/category/international/"]}},
    ]  # fmt: skip
    code, got = check(tmp_path, srcs)
    assert code == 1
    assert got["ddnews"]["verdict"] == "unreachable"
    assert {c["verdict"] for c in got["ddnews"]["checks"]} == {"unreachable"}

    # The same guard as collection: loopback is refused unless allowed, before any request.
    mirror(feed_server)
    code, got = check(
        tmp_path, sources(feed_server), "--source", "ddnews",
        fetch={"allow_private_networks": False},
    )  # fmt: skip
    assert code == 1 and got["ddnews"]["verdict"] == "broken"
    assert feed_server.requests == []


def test_unknown_source_is_a_usage_error(tmp_path: Path, feed_server: FeedServer) -> None:
    cfg = write_config(tmp_path / "feeds.yaml", sources(feed_server))
    done = monitor("sources", "check", "--source", "nhk", config=cfg)
    assert done.returncode == 2 and "unknown source nhk" in done.stderr


def test_what_each_answer_means_and_the_most_severe_wins() -> None:
    from monitor.operate.sources_check import URLCheck, http_verdict, summarise

    assert [http_verdict(s) for s in (404, 410, 429, 500, 503)] == [
        "broken", "broken", "blocked", "unreachable", "unreachable",
    ]  # fmt: skip
    lines = [
        URLCheck("feed", "/a", "stale", "old"),
        URLCheck("listing", "/b", "broken", "404"),
        URLCheck("feed", "/c", "works"),
    ]
    assert summarise(lines) == ("broken", "2 of 3 URLs do not work: stale: old; broken: 404")
    lines.append(URLCheck("listing", "/d", "blocked", "robots.txt"))
    assert summarise(lines)[0] == "blocked"
    assert summarise([URLCheck("feed", "/c", "works")]) == ("works", "")
    assert summarise([])[0] == "broken"  # a source with nothing to check does not work
