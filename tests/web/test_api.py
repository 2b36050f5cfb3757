"""The JSON API over real HTTP: its OpenAPI document is valid, its answers follow it, its article
fields are the CLI's `--json`, and its pages walk the whole result."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import jsonschema
from openapi_spec_validator import validate

from tests.processes import monitor
from tests.web.http import get
from tests.web.site import Corpus, WebProcess


def api(site: WebProcess, path: str, status: int = 200) -> Any:
    answer = get(site.base + path)
    assert answer.status == status, answer.text
    assert answer.headers.get_content_type() == "application/json"
    return json.loads(answer.text)


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    """A component schema with its references resolvable, for jsonschema."""
    return {"$ref": f"#/components/schemas/{name}", "components": document["components"]}


def test_openapi_document_is_valid_and_names_every_route(site: WebProcess) -> None:
    document = api(site, "/api/openapi.json")
    validate(document)
    assert set(document["paths"]) == {
        "/api/articles", "/api/articles/{id}", "/api/stories", "/api/stories/{key}", "/api/sources",
        "/api/trends", "/feeds/search.atom", "/feeds/sectors/{sector}.atom",
    }  # fmt: skip


def test_answers_follow_the_documented_schemas(site: WebProcess, corpus: Corpus) -> None:
    document = api(site, "/api/openapi.json")
    checks = {
        "/api/articles?q=semicon*": "ArticlePage",
        f"/api/articles/{corpus.ids['pact-jt']}": "FullArticle",
        "/api/trends?weeks=4": "Trends",
    }
    for path, name in checks.items():
        jsonschema.validate(api(site, path), schema(document, name))
    for row in api(site, "/api/sources"):
        jsonschema.validate(row, schema(document, "Source"))
    for item in api(site, "/api/stories"):
        jsonschema.validate(item, schema(document, "Story"))
    story = api(site, f"/api/articles/{corpus.ids['pact-dd']}")["story"]
    jsonschema.validate(api(site, f"/api/stories/{story['key']}"), schema(document, "Story"))
    error = api(site, "/api/articles?q=" + quote("AND ("), 400)
    assert "q:" in error["error"]
    assert api(site, "/api/articles/123456", 404) == {"error": "no stored article has this id"}


def test_articles_have_exactly_the_fields_of_the_cli_json(site: WebProcess, corpus: Corpus) -> None:
    cli = monitor("articles", "--search", "semicon*", "--json", config=corpus.config, db=corpus.db)
    assert cli.returncode == 0, cli.stderr
    assert api(site, "/api/articles?q=semicon*")["items"] == json.loads(cli.stdout)
    status = monitor("status", "--json", config=corpus.config, db=corpus.db)
    served = api(site, "/api/sources")
    assert [r["source"] for r in served] == [r["source"] for r in json.loads(status.stdout)]
    assert served[0].keys() == json.loads(status.stdout)[0].keys()


def test_pages_walk_the_whole_result_once(site: WebProcess, corpus: Corpus) -> None:
    seen: list[int] = []
    path: str | None = "/api/articles?per_page=2"
    while path:
        got = api(site, path)
        assert len(got["items"]) <= 2
        seen += [item["id"] for item in got["items"]]
        path = got["next"]
    assert sorted(seen) == sorted(corpus.ids.values()) and len(set(seen)) == len(seen)
    assert api(site, "/api/articles?per_page=101", 400)["error"].startswith("per_page:")
    assert api(site, "/api/articles?page=0", 400)["error"].startswith("page:")


def test_one_article_whole_with_its_story_and_alerts(site: WebProcess, corpus: Corpus) -> None:
    got = api(site, f"/api/articles/{corpus.ids['pact-dd']}")
    assert "Gujarat" in got["text"]
    assert [a["source"] for a in got["story"]["articles"]] == ["japantimes", "ddnews"]
    assert [(a["subscriber"], a["rules"]) for a in got["alerts"]] == [("analyst-delhi", ["chips"])]
    assert "destination" not in json.dumps(got) and "smtp.example.org" not in json.dumps(got)


def test_stories_in_more_than_one_outlet(site: WebProcess, corpus: Corpus) -> None:
    stories = api(site, "/api/stories")
    assert [[a["id"] for a in s["articles"]] for s in stories] == [
        [corpus.ids["pact-jt"], corpus.ids["pact-dd"]]
    ]
    assert api(site, "/api/stories?days=1") == []  # the pact is three days old


def test_by_relevance_finds_what_newest_first_finds(site: WebProcess) -> None:
    def ids(query: str) -> list[int]:
        return [item["id"] for item in api(site, f"/api/articles?{query}")["items"]]

    newest = ids("q=semicon*")
    assert len(newest) == 3
    assert sorted(ids("q=semicon*&order=relevance")) == sorted(newest)
    both = "q=semicon*&order=relevance&source=japantimes&source=ddnews"
    assert sorted(ids(both)) == sorted(newest)  # the filtered way ranks the same matches
