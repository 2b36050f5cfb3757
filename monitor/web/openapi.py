"""The OpenAPI 3.1 description of /api/ and /feeds/, served at /api/openapi.json.

Reads/writes: nothing; tests validate it and check the API's answers against its schemas.
"""

from __future__ import annotations

from typing import Any

from monitor import __version__

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_INT = {"type": "integer"}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or _STR,
    }


_SEARCH_PARAMS = [
    _query("q", 'A query in the rule language: words, "phrases", AND/OR/NOT, (), prefix*.'),
    _query("sector", "Only articles tagged with this sector (a name from feeds.yaml)."),
    {
        **_query("source", "Only these sources (repeatable).", {"type": "array", "items": _STR}),
        "style": "form",
        "explode": True,
    },
    _query("from", "Published on or after this UTC day.", {"type": "string", "format": "date"}),
    _query("to", "Published on or before this UTC day.", {"type": "string", "format": "date"}),
    _query("story", "Only the articles of this story (its key)."),
    _query(
        "order",
        "newest (default) or relevance (with q).",
        {"type": "string", "enum": ["newest", "relevance"]},
    ),
    _query("page", "Page number, from 1.", {"type": "integer", "minimum": 1, "maximum": 500}),
    _query(
        "per_page",
        "Items per page (default 50).",
        {"type": "integer", "minimum": 1, "maximum": 100},
    ),
]

_ERROR = {
    "description": "The parameters cannot be used, or the query took too long",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": _STR},
            }
        }
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _schemas() -> dict[str, Any]:
    article = {
        "type": "object",
        "required": [
            "id",
            "source",
            "url",
            "title",
            "summary",
            "author",
            "published_at",
            "first_seen_at",
            "sectors",
            "relevance",
            "relevance_reason",
            "matched",
            "ingest_mode",
        ],
        "properties": {
            "id": _INT,
            "source": _STR,
            "url": _STR,
            "title": _STR,
            "summary": _STR,
            "author": _NSTR,
            "published_at": _TIME,
            "first_seen_at": _TIME,
            "sectors": {"type": "array", "items": _STR},
            "relevance": {"type": "number", "minimum": 0, "maximum": 1},
            "relevance_reason": {
                "type": "object",
                "description": "Why it is India–Japan: "
                "text, for, against, india, japan, bilateral, primary_sector, "
                "sector_evidence",
            },
            "matched": {"type": "object", "additionalProperties": {"type": "array", "items": _STR}},
            "ingest_mode": {"type": "string", "enum": ["live", "backfill"]},
        },
    }
    member = {
        "type": "object",
        "required": ["id", "source", "outlet", "title", "url", "published_at"],
        "properties": {
            "id": _INT,
            "source": _STR,
            "outlet": _STR,
            "title": _STR,
            "url": _STR,
            "published_at": _TIME,
        },
    }
    story = {
        "type": "object",
        "required": ["key", "articles"],
        "properties": {
            "key": _NSTR,
            "articles": {"type": "array", "items": {"$ref": "#/components/schemas/StoryArticle"}},
        },
    }
    alert = {
        "type": "object",
        "required": ["subscriber", "mode", "status", "reason", "rules", "created_at", "sent_at"],
        "properties": {
            "subscriber": _STR,
            "mode": _STR,
            "status": _STR,
            "reason": _NSTR,
            "rules": {"type": "array", "items": _STR},
            "created_at": _TIME,
            "sent_at": _NTIME,
        },
    }
    full = {
        "allOf": [
            {"$ref": "#/components/schemas/Article"},
            {
                "type": "object",
                "required": ["text", "story", "alerts"],
                "properties": {
                    "text": _STR,
                    "story": {"$ref": "#/components/schemas/Story"},
                    "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
                },
            },
        ]
    }
    page = {
        "type": "object",
        "required": ["items", "page", "per_page", "next", "prev"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Article"}},
            "page": _INT,
            "per_page": _INT,
            "next": _NSTR,
            "prev": _NSTR,
        },
    }
    source = {
        "type": "object",
        "required": [
            "source",
            "name",
            "state",
            "detail",
            "last_success",
            "last_error",
            "consecutive_failures",
            "articles",
            "articles_24h",
            "last_new_article",
            "feeds",
        ],
        "properties": {
            "source": _STR,
            "name": _STR,
            "state": _STR,
            "detail": _NSTR,
            "last_success": _NTIME,
            "last_error": _NSTR,
            "consecutive_failures": _INT,
            "articles": _INT,
            "articles_24h": _INT,
            "last_new_article": _NTIME,
            "feeds": {"type": "array", "items": {"type": "object"}},
        },
    }
    counts = {"type": "object", "additionalProperties": {"type": "array", "items": _INT}}
    trends = {
        "type": "object",
        "required": ["weeks", "sectors", "outlets"],
        "properties": {
            "weeks": {
                "type": "array",
                "items": {"type": "string", "format": "date"},
                "description": "The Monday (UTC) of each week, oldest first",
            },
            "sectors": counts,
            "outlets": counts,
        },
    }
    return {
        "Article": article,
        "ArticlePage": page,
        "FullArticle": full,
        "StoryArticle": member,
        "Story": story,
        "Alert": alert,
        "Source": source,
        "Trends": trends,
    }


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def document() -> dict[str, Any]:
    atom = {
        "description": "An Atom 1.0 feed, newest first",
        "content": {"application/atom+xml": {"schema": _STR}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "India–Japan News Monitor (read-only)",
            "version": __version__,
            "description": "Stored articles, stories, source health and weekly trends. "
            "Times are ISO 8601 in UTC.",
        },
        "paths": {
            "/api/articles": {
                "get": {
                    "summary": "Stored articles, newest first (or by relevance), filtered",
                    "operationId": "listArticles",
                    "parameters": _SEARCH_PARAMS,
                    "responses": {
                        "200": _json(_ref("ArticlePage"), "A page of articles"),
                        "400": _ERROR,
                        "503": _ERROR,
                    },
                }
            },
            "/api/articles/{id}": {
                "get": {
                    "summary": "One article with its text, story and alerts",
                    "operationId": "getArticle",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": _INT}],
                    "responses": {"200": _json(_ref("FullArticle"), "The article"), "404": _ERROR},
                }
            },
            "/api/stories": {
                "get": {
                    "summary": "Stories carried by more than one outlet, latest first",
                    "operationId": "listStories",
                    "parameters": [
                        _query(
                            "days",
                            "With an article in this many recent days (default 30).",
                            {"type": "integer", "minimum": 1, "maximum": 366},
                        )
                    ],
                    "responses": {
                        "200": _json({"type": "array", "items": _ref("Story")}, "Stories"),
                        "400": _ERROR,
                    },
                }
            },
            "/api/stories/{key}": {
                "get": {
                    "summary": "The articles of one story in every outlet, oldest first",
                    "operationId": "getStory",
                    "parameters": [{"name": "key", "in": "path", "required": True, "schema": _STR}],
                    "responses": {"200": _json(_ref("Story"), "The story"), "404": _ERROR},
                }
            },
            "/api/sources": {
                "get": {
                    "summary": "Per source: state and why (as monitor status --json)",
                    "operationId": "listSources",
                    "responses": {
                        "200": _json({"type": "array", "items": _ref("Source")}, "Sources")
                    },
                }
            },
            "/api/trends": {
                "get": {
                    "summary": "Articles per sector and per outlet in each recent week",
                    "operationId": "getTrends",
                    "parameters": [
                        _query(
                            "weeks",
                            "How many weeks, this one last (default 13).",
                            {"type": "integer", "minimum": 2, "maximum": 104},
                        )
                    ],
                    "responses": {"200": _json(_ref("Trends"), "Weekly counts"), "400": _ERROR},
                }
            },
            "/feeds/search.atom": {
                "get": {
                    "summary": "An Atom feed of any search",
                    "operationId": "searchFeed",
                    "parameters": _SEARCH_PARAMS[:6],
                    "responses": {"200": atom, "400": _ERROR},
                }
            },
            "/feeds/sectors/{sector}.atom": {
                "get": {
                    "summary": "An Atom feed of one sector",
                    "operationId": "sectorFeed",
                    "parameters": [
                        {"name": "sector", "in": "path", "required": True, "schema": _STR}
                    ],
                    "responses": {"200": atom, "404": _ERROR},
                }
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Only when web.token is set (web.allow_remote); "
                    "Basic auth with the token as password works too.",
                },
            },
        },
    }
