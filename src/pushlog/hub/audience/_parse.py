"""The audience filter language: tokens, grammar and the syntax tree (docs/notifications.md).

Grammar (keywords are case-insensitive)::

    filter     := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | primary
    primary    := "(" or ")" | condition
    condition  := field ("=" | "!=" | "<" | "<=" | ">" | ">=") value
                | field ["not"] "in" "(" value ("," value)* ")"
                | field "exists"
                | field "within" DURATION           -- a time no older than now - DURATION
    field      := NAME ("." NAME)*
    value      := STRING | NUMBER | "true" | "false"
    STRING     := "..." or '...' (backslash escapes the quote and itself)
    DURATION   := NUMBER followed by s, m, h, d or w (e.g. 30d)

A hand-written recursive-descent parser: every error names the position (1-based column) and what
was expected there, e.g. ``column 14: expected a value (a string, a number, true or false)``. Which
fields exist is the compiler's business (:mod:`._compile`); this module only builds the tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..._duration import UNITS

#: Longest filter text accepted, and deepest nesting (so a hostile filter cannot exhaust the stack).
MAX_FILTER: Final = 4000
MAX_DEPTH: Final = 32
#: Most values an ``in (...)`` list may have in a filter text.
MAX_IN_VALUES: Final = 1000

Value = str | float | bool

COMPARISONS: Final = ("=", "!=", "<", "<=", ">", ">=")


class FilterError(ValueError):
    """A filter that cannot be used; ``column`` is 1-based (0 when it concerns the whole filter)."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(f"column {column}: {message}" if column else message)
        self.column = column
        self.detail = message


# -- the tree -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: str  # one of COMPARISONS
    value: Value
    column: int


@dataclass(frozen=True, slots=True)
class In:
    field: str
    values: tuple[Value, ...]
    column: int


@dataclass(frozen=True, slots=True)
class Exists:
    field: str
    column: int


@dataclass(frozen=True, slots=True)
class Within:
    field: str
    seconds: float
    column: int


@dataclass(frozen=True, slots=True)
class Not:
    inner: Node


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Node, ...]


Node = Compare | In | Exists | Within | Not | And | Or


# -- tokens ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name, string, number, duration, op, lparen, rparen, comma, end
    text: str
    column: int
    value: Value | float | None = None


_TOKEN: Final = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<duration>\d+(?:\.\d+)?[smhdw])(?![A-Za-z0-9_])
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![A-Za-z_])
    | (?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)*)
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<comma>,)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    """,
    re.VERBOSE,
)
_ESCAPE: Final = re.compile(r"\\(.)")


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] in "\"'":
                raise FilterError(pos + 1, "a string that is never closed")
            raise FilterError(pos + 1, f"unexpected character {text[pos]!r}")
        kind = match.lastgroup
        assert kind is not None
        raw = match.group()
        if kind != "space":
            value: Value | float | None = None
            if kind == "string":
                value = _ESCAPE.sub(r"\1", raw[1:-1])
            elif kind == "number":
                value = float(raw)
            elif kind == "duration":
                value = float(raw[:-1]) * UNITS[raw[-1]]
            found.append(_Token(kind, raw, pos + 1, value))
        pos = match.end()
    found.append(_Token("end", "", len(text) + 1))
    return found


# -- the parser -----------------------------------------------------------------------------------

_VALUE: Final = "a value (a string, a number, true or false)"


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._at = 0
        self._depth = 0

    def _peek(self) -> _Token:
        return self._tokens[self._at]

    def _next(self) -> _Token:
        token = self._tokens[self._at]
        if token.kind != "end":
            self._at += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token.kind == "name" and token.text.lower() == word:
            self._at += 1
            return True
        return False

    def _fail(self, expected: str) -> FilterError:
        token = self._peek()
        found = "the end of the filter" if token.kind == "end" else repr(token.text)
        return FilterError(token.column, f"expected {expected}, found {found}")

    def parse(self) -> Node:
        if self._peek().kind == "end":
            raise FilterError(0, "the filter is empty")
        node = self._or()
        if self._peek().kind != "end":
            raise self._fail("'and', 'or' or the end of the filter")
        return node

    def _or(self) -> Node:
        parts = [self._and()]
        while self._keyword("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def _and(self) -> Node:
        parts = [self._not()]
        while self._keyword("and"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _not(self) -> Node:
        if self._keyword("not"):
            return Not(self._nested(self._not))
        return self._primary()

    def _nested(self, rule: Callable[[], Node]) -> Node:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise FilterError(self._peek().column, f"nested more than {MAX_DEPTH} levels deep")
        try:
            return rule()
        finally:
            self._depth -= 1

    def _primary(self) -> Node:
        token = self._peek()
        if token.kind == "lparen":
            self._next()
            node = self._nested(self._or)
            if self._peek().kind != "rparen":
                raise self._fail("')'")
            self._next()
            return node
        if token.kind != "name" or token.text.lower() in ("and", "or", "in", "exists", "within"):
            raise self._fail("a field name, 'not' or '('")
        return self._condition()

    def _condition(self) -> Node:
        field = self._next()
        name, column = field.text, field.column
        token = self._peek()
        if token.kind == "op":
            self._next()
            return Compare(name, token.text, self._value(), column)
        if self._keyword("exists"):
            return Exists(name, column)
        if self._keyword("within"):
            duration = self._peek()
            if duration.kind != "duration":
                raise self._fail("a duration such as 30d, 12h or 90m")
            self._next()
            assert isinstance(duration.value, float)
            return Within(name, duration.value, column)
        negated = self._keyword("not")
        if self._keyword("in"):
            node: Node = In(name, self._list(), column)
            return Not(node) if negated else node
        if negated:
            raise self._fail("'in' after 'not'")
        raise self._fail("an operator (=, !=, <, <=, >, >=, in, not in, exists, within)")

    def _list(self) -> tuple[Value, ...]:
        if self._peek().kind != "lparen":
            raise self._fail("'(' starting the list of values")
        self._next()
        values = [self._value()]
        while self._peek().kind == "comma":
            self._next()
            values.append(self._value())
        if self._peek().kind != "rparen":
            raise self._fail("',' or ')'")
        self._next()
        if len(values) > MAX_IN_VALUES:
            raise FilterError(0, f"an 'in' list has more than {MAX_IN_VALUES} values")
        return tuple(values)

    def _value(self) -> Value:
        token = self._peek()
        if token.kind == "string":
            self._next()
            assert isinstance(token.value, str)
            return token.value
        if token.kind == "number":
            self._next()
            assert isinstance(token.value, float)
            return token.value
        if token.kind == "name" and token.text.lower() in ("true", "false"):
            self._next()
            return token.text.lower() == "true"
        raise self._fail(_VALUE)


def parse_filter(text: str) -> Node:
    """The syntax tree of a filter; :class:`FilterError` (position and expectation) when it is not one."""
    if len(text) > MAX_FILTER:
        raise FilterError(0, f"the filter is longer than {MAX_FILTER} characters")
    return _Parser(text).parse()
