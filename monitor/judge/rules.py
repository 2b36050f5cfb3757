"""Subscribers' keyword rules: parses queries like `"rare earth" OR semicon* AND NOT cricket`.

Reads: rule definitions and one article at a time. Writes: nothing; returns the rules that match.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from monitor.article import Article
from monitor.judge.terms import TermMatcher

_OPERATORS = frozenset({"AND", "OR", "NOT"})
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_WORD_STOP = frozenset('()"|')
_MAX_DEPTH = 100  # parentheses plus NOTs; keeps recursion (parse, evaluate, str) bounded
_MATCHER_GROUP = "rule"


class RuleSyntaxError(ValueError):
    """A query that cannot be parsed; `position` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position


# --- AST --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # as written: phrase without quotes (single-spaced), prefix terms keep their '*'

    def evaluate(self, found: AbstractSet[str]) -> bool:
        return self.text in found

    def support(self, found: AbstractSet[str], value: bool) -> set[str]:
        return {self.text} if value else set()

    def __str__(self) -> str:
        return self.text if _bare_word(self.text) else f'"{self.text}"'


@dataclass(frozen=True, slots=True)
class Not:
    child: Node

    def evaluate(self, found: AbstractSet[str]) -> bool:
        return not self.child.evaluate(found)

    def support(self, found: AbstractSet[str], value: bool) -> set[str]:
        return self.child.support(found, not value)

    def __str__(self) -> str:
        inner = str(self.child)
        return f"NOT ({inner})" if isinstance(self.child, And | Or) else f"NOT {inner}"


def _support_of(children: tuple[Node, ...], found: AbstractSet[str], value: bool) -> set[str]:
    """The terms of the children whose value equals the group's: what explains the result."""
    result: set[str] = set()
    for child in children:
        if child.evaluate(found) == value:
            result |= child.support(found, value)
    return result


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]

    def evaluate(self, found: AbstractSet[str]) -> bool:
        return all(child.evaluate(found) for child in self.children)

    def support(self, found: AbstractSet[str], value: bool) -> set[str]:
        # True: every child is needed. False: the children that are false explain it.
        return _support_of(self.children, found, value)

    def __str__(self) -> str:
        return " AND ".join(f"({c})" if isinstance(c, Or) else str(c) for c in self.children)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]

    def evaluate(self, found: AbstractSet[str]) -> bool:
        return any(child.evaluate(found) for child in self.children)

    def support(self, found: AbstractSet[str], value: bool) -> set[str]:
        # True: the children that are true explain it. False: every child is false.
        return _support_of(self.children, found, value)

    def __str__(self) -> str:
        return " OR ".join(f"({c})" if isinstance(c, And) else str(c) for c in self.children)


Node = Term | Not | And | Or


def _bare_word(text: str) -> bool:
    """Whether a term can be printed without quotes and parse back to itself."""
    return (
        bool(text)
        and not any(c.isspace() or c in _WORD_STOP for c in text)
        and text.upper() not in _OPERATORS
        and text[0] not in _DASHES
    )


def _collect_terms(node: Node | None, into: set[str]) -> None:
    if isinstance(node, Term):
        into.add(node.text)
    elif isinstance(node, Not):
        _collect_terms(node.child, into)
    elif isinstance(node, And | Or):
        for child in node.children:
            _collect_terms(child, into)


@dataclass(frozen=True)
class Query:
    """A parsed query; `root` None is the empty query, which matches everything."""

    root: Node | None
    terms: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        terms: set[str] = set()
        _collect_terms(self.root, terms)
        object.__setattr__(self, "terms", frozenset(terms))

    def evaluate(self, found: Collection[str]) -> bool:
        """Whether the query holds when exactly the terms in `found` (as written) are present."""
        if self.root is None:
            return True
        return self.root.evaluate(_as_set(found))

    def why(self, found: Collection[str]) -> list[str]:
        """The present, non-negated terms that make the query true (sorted); [] when false."""
        if self.root is None:
            return []
        found_set = _as_set(found)
        if not self.root.evaluate(found_set):
            return []
        return sorted(self.root.support(found_set, True))

    def __str__(self) -> str:
        return "" if self.root is None else str(self.root)


def _as_set(found: Collection[str]) -> AbstractSet[str]:
    return found if isinstance(found, AbstractSet) else frozenset(found)


# --- Parsing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(", ")", "AND", "OR", "NOT", "TERM"
    position: int
    text: str = ""


def _check_term(term: str, position: int, offsets: list[int]) -> None:
    """Validate a word or phrase; offsets[i] is the query position of term[i]."""
    last = len(term) - 1
    for index, char in enumerate(term):
        if char != "*":
            continue
        if index != last:
            raise RuleSyntaxError("'*' only allowed at the end of a word", offsets[index])
        if index == 0 or not term[index - 1].isalnum():
            raise RuleSyntaxError("'*' must follow a letter or digit", offsets[index])
    if not any(c.isalnum() for c in term):
        raise RuleSyntaxError(f"term {term!r} has no letters or digits", position)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char, i))
            i += 1
        elif char == "|":
            raise RuleSyntaxError("unexpected '|' (write OR)", i)
        elif char == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise RuleSyntaxError("unterminated quote starting", i)
            if "|" in text[i + 1 : end]:
                raise RuleSyntaxError("'|' not allowed in a phrase", text.index("|", i + 1))
            # Collapse whitespace, remembering where each kept character came from.
            chars: list[str] = []
            offsets: list[int] = []
            for k in range(i + 1, end):
                if text[k].isspace():
                    if chars and chars[-1] != " ":
                        chars.append(" ")
                        offsets.append(k)
                else:
                    chars.append(text[k])
                    offsets.append(k)
            if chars and chars[-1] == " ":
                chars.pop()
                offsets.pop()
            phrase = "".join(chars)
            if not phrase:
                raise RuleSyntaxError("empty phrase", i)
            _check_term(phrase, i, offsets)
            tokens.append(_Token("TERM", i, phrase))
            i = end + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _WORD_STOP:
                j += 1
            word = text[i:j]
            if word.upper() in _OPERATORS:
                tokens.append(_Token(word.upper(), i))
            else:
                if word[0] in _DASHES:
                    raise RuleSyntaxError(f"leading {word[0]!r} is not an operator (use NOT)", i)
                _check_term(word, i, list(range(i, j)))
                tokens.append(_Token("TERM", i, word))
            i = j
    return tokens


class _Parser:
    """Recursive descent: or := and (OR and)*; and := not (AND? not)*; not := NOT not | primary."""

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def previous(self) -> _Token | None:
        return self.tokens[self.index - 1] if self.index > 0 else None

    def parse(self) -> Node:
        node = self.or_expr()
        token = self.peek()
        if token is not None:  # only a stray ')' can stop or_expr early
            raise RuleSyntaxError(f"unexpected {token.kind!r}", token.position)
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.index += 1
            children.append(self.and_expr())
        return _flat(Or, children)

    def and_expr(self) -> Node:
        children = [self.not_expr()]
        while (token := self.peek()) is not None and token.kind in ("AND", "NOT", "TERM", "("):
            if token.kind == "AND":
                self.index += 1
            children.append(self.not_expr())
        return _flat(And, children)

    def not_expr(self) -> Node:
        token = self.peek()
        if token is not None and token.kind == "NOT":
            self.index += 1
            self.enter(token)
            child = self.not_expr()
            self.depth -= 1
            return Not(child)
        return self.primary()

    def primary(self) -> Node:
        token = self.peek()
        before = self.previous()
        if token is not None and token.kind == "TERM":
            self.index += 1
            return Term(token.text)
        if token is not None and token.kind == "(":
            self.index += 1
            self.enter(token)
            following = self.peek()
            if following is None:
                raise RuleSyntaxError("unclosed '('", token.position)
            if following.kind == ")":
                raise RuleSyntaxError("empty parentheses", token.position)
            node = self.or_expr()
            closing = self.peek()
            if closing is None:
                raise RuleSyntaxError("unclosed '('", token.position)
            self.index += 1  # or_expr stops only at ')' or the end
            self.depth -= 1
            return node
        where = len(self.text) if token is None else token.position
        if before is not None and before.kind in _OPERATORS:
            raise RuleSyntaxError(f"expected a term after {before.kind}", where)
        if token is None:  # unreachable: empty queries and '(' at the end are handled earlier
            raise RuleSyntaxError("expected a term", where)
        raise RuleSyntaxError(f"unexpected {token.kind!r}", where)

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise RuleSyntaxError("query nested too deeply", token.position)


def _flat(kind: type[And] | type[Or], children: list[Node]) -> Node:
    if len(children) == 1:
        return children[0]
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return kind(tuple(flat))


def parse_query(text: str) -> Query:
    """Parse a rule query; an empty or blank text gives the empty query (matches everything)."""
    tokens = _tokenize(text)
    if not tokens:
        return Query(None)
    return Query(_Parser(text, tokens).parse())


# --- Rule sets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    key: str  # unique id given by the caller, e.g. "analyst-a/chips"
    query: Query | None  # None = no keyword condition
    sectors: frozenset[str] = frozenset()  # article must have at least one (if non-empty)
    sources: frozenset[str] = frozenset()  # article source must be one of these (if non-empty)
    min_relevance: float = 0.0


@dataclass(frozen=True)
class RuleMatch:
    rule: str  # Rule.key
    terms: list[str]  # Query.why(...): the matched positive terms
    sectors: list[str]  # article sectors that satisfied the filter (all of them if no filter)


class RuleSet:
    """Many rules, one term matcher: each article is scanned once, then only candidates evaluated.

    A rule whose query is false when no term at all is present can only become true if one of
    its terms is found, so it is reached through the term → rules index; the others (no query,
    empty query, or satisfiable through NOT alone) are always candidates.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules: dict[str, Rule] = {}
        self._order: dict[str, int] = {}
        self._index: dict[str, list[str]] = {}
        self._always: list[str] = []
        for rule in rules:
            if rule.key in self._rules:
                raise ValueError(f"duplicate rule key {rule.key!r}")
            self._order[rule.key] = len(self._rules)
            self._rules[rule.key] = rule
            if rule.query is None or rule.query.evaluate(frozenset()):
                self._always.append(rule.key)
            if rule.query is not None:
                for term in rule.query.terms:
                    self._index.setdefault(term, []).append(rule.key)
        self._matcher = TermMatcher({_MATCHER_GROUP: sorted(self._index)})

    def __len__(self) -> int:
        return len(self._rules)

    @property
    def rules(self) -> list[Rule]:
        return list(self._rules.values())

    def match(self, article: Article) -> list[RuleMatch]:
        """The rules the article satisfies, in the order the rules were given."""
        hits = self._matcher.find(
            (("title", article.title), ("summary", article.summary), ("text", article.text))
        )
        found = frozenset(hit.term for hit in hits)
        candidates = set(self._always)
        for term in found:
            candidates.update(self._index.get(term, ()))
        matches: list[RuleMatch] = []
        for key in sorted(candidates, key=self._order.__getitem__):
            rule = self._rules[key]
            if rule.sources and article.source_id not in rule.sources:
                continue
            if article.relevance < rule.min_relevance:
                continue
            if rule.sectors:
                sectors = sorted(s for s in article.sectors if s in rule.sectors)
                if not sectors:
                    continue
            else:
                sectors = sorted(article.sectors)
            if rule.query is None:
                matches.append(RuleMatch(key, [], sectors))
            elif rule.query.evaluate(found):
                matches.append(RuleMatch(key, rule.query.why(found), sectors))
        return matches


__all__ = [
    "Query",
    "Rule",
    "RuleMatch",
    "RuleSet",
    "RuleSyntaxError",
    "parse_query",
]
