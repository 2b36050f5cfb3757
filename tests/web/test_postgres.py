"""The web view on PostgreSQL: the same SYNTHETIC corpus in a database of its own on the
machine's server (tests/databases.py), served by `monitor web`, passes the same checks as on
SQLite (search, filters, articles, stories, trends, API, feeds, escaping, CSP)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.databases import postgres_database
from tests.web import test_api, test_feeds, test_pages, test_trends
from tests.web.site import Corpus, WebProcess, build_corpus

CHECKS: list[Callable[..., None]] = [
    test_pages.test_search_in_the_rule_language_newest_first_with_terms_marked,
    test_pages.test_filters_by_sector_source_and_dates,
    test_pages.test_a_query_the_view_cannot_use_is_explained_not_run,
    test_pages.test_article_page_says_why_which_sectors_which_story_and_who_was_alerted,
    test_pages.test_stories_page_lists_stories_of_several_outlets,
    test_pages.test_story_page_lists_every_outlet_with_its_timeline,
    test_pages.test_hostile_text_is_shown_as_text_everywhere,
    test_pages.test_every_answer_carries_a_strict_content_security_policy,
    test_pages.test_sources_page_is_the_status_table,
    test_pages.test_rule_preview_shows_what_a_rule_would_have_matched,
    test_api.test_answers_follow_the_documented_schemas,
    test_api.test_articles_have_exactly_the_fields_of_the_cli_json,
    test_api.test_pages_walk_the_whole_result_once,
    test_api.test_one_article_whole_with_its_story_and_alerts,
    test_api.test_stories_in_more_than_one_outlet,
    test_api.test_by_relevance_finds_what_newest_first_finds,
    test_feeds.test_a_search_feed_holds_what_the_search_finds,
    test_feeds.test_a_sector_feed_and_hostile_titles_in_it,
    test_trends.test_weekly_counts_per_sector_and_outlet,
    test_trends.test_the_chart_shows_the_spike_at_a_glance,
]


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Corpus, WebProcess]]:
    with postgres_database() as url:
        corpus = build_corpus(tmp_path_factory.mktemp("web-pg"), url)
        web = WebProcess(corpus)
        try:
            yield corpus, web
        finally:
            web.close()


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__.removeprefix("test_") for c in CHECKS])
def test_on_postgresql(check: Callable[..., None], pg: tuple[Corpus, WebProcess]) -> None:
    corpus, site = pg
    given: dict[str, Any] = {"corpus": corpus, "site": site}
    check(**{name: given[name] for name in inspect.signature(check).parameters})
