"""Full-text search in the rule query language: a parsed Query translated for the database.

Reads: a Query (monitor/judge/rules.py). Writes: nothing; returns an FTS5 MATCH expression
(SQLite) or a to_tsquery text (PostgreSQL) in which every term is a quoted phrase, so no user
text is ever read as search syntax — the same query means the same thing in a rule and a search.
"""

from __future__ import annotations

import re

from monitor.judge.rules import And, Node, Not, Or, Query, Term

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)  # what FTS5's unicode61 tokenizer keeps


class SearchError(ValueError):
    """A query that full-text search cannot answer; str() says why, for the user."""


# What PostgreSQL indexes and searches (storage/db.py creates a GIN index on this expression).
PG_DOCUMENT = (
    "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' || "
    "coalesce(text, ''))"
)


def fts5(query: Query) -> str:
    if query.root is None:
        raise SearchError("empty search: give at least one word")
    return _node(query.root)


def tsquery(query: Query) -> str:
    """The same query for PostgreSQL's to_tsquery('simple', …): phrases as <->, prefixes as :*."""
    if query.root is None:
        raise SearchError("empty search: give at least one word")
    fts5(query)  # the same refusals (OR NOT, only NOT) as on SQLite
    return _pg(query.root)


def _pg(node: Node) -> str:
    if isinstance(node, Term):
        prefix = node.text.endswith("*")
        tokens = _TOKEN.findall(node.text.rstrip("*").lower())
        quoted = [f"'{t}'" for t in tokens]  # tokens are letters and digits only
        if prefix:
            quoted[-1] += ":*"
        return "(" + " <-> ".join(quoted) + ")"
    if isinstance(node, Or):
        return "(" + " | ".join(_pg(child) for child in node.children) + ")"
    if isinstance(node, And):
        parts = ["!" + _pg(c.child) if isinstance(c, Not) else _pg(c) for c in node.children]
        return "(" + " & ".join(parts) + ")"
    assert isinstance(node, Not)
    return "!" + _pg(node.child)


def _node(node: Node) -> str:
    if isinstance(node, Term):
        return _phrase(node)
    if isinstance(node, Or):
        if any(isinstance(child, Not) for child in node.children):
            raise SearchError(
                "OR NOT cannot be searched: write the words to find, AND NOT the rest"
            )
        return "(" + " OR ".join(_node(child) for child in node.children) + ")"
    if isinstance(node, And):
        wanted = [c for c in node.children if not isinstance(c, Not)]
        unwanted = [c.child for c in node.children if isinstance(c, Not)]
        if not wanted:
            raise SearchError("a search needs at least one word that must be present")
        text = "(" + " AND ".join(_node(child) for child in wanted) + ")"
        for child in unwanted:
            text = f"({text} NOT {_node(child)})"
        return text
    raise SearchError("a search needs at least one word that must be present (not only NOT)")


def _phrase(term: Term) -> str:
    prefix = term.text.endswith("*")
    tokens = _TOKEN.findall(term.text.rstrip("*").lower())
    if not tokens:
        raise SearchError(f"{term.text!r} has no letters or digits to search for")
    return '"' + " ".join(tokens) + '"' + ("*" if prefix else "")
