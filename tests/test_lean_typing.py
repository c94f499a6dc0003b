"""The run-time ``NamedTuple`` of ``pushlog._lean_typing`` behaves like ``typing.NamedTuple`` for what the
client's named tuples use: fields in order, trailing defaults, methods, properties, docstring, pickling."""

from __future__ import annotations

import pickle
import typing

import pytest

from pushlog._dsn import DSN
from pushlog._lean_typing import NamedTuple as LeanNamedTuple
from pushlog._levels import POLICIES, Level
from pushlog._transport import Attempt, Outcome, SendResult


class Typed(typing.NamedTuple):
    """A pair."""

    key: str
    size: int = 1
    note: str | None = None

    @property
    def double(self) -> int:
        return self.size * 2

    def __repr__(self) -> str:
        return f"<{self.key}>"


class Light(LeanNamedTuple):
    """A pair."""

    key: str
    size: int = 1
    note: str | None = None

    @property
    def double(self) -> int:
        return self.size * 2

    def __repr__(self) -> str:
        return f"<{self.key}>"


def test_lean_named_tuple_matches_typing_named_tuple() -> None:
    for cls in (Typed, Light):
        item = cls("k", note="n")
        assert isinstance(item, tuple) and tuple(item) == ("k", 1, "n")
        assert (cls._fields, cls._field_defaults) == (("key", "size", "note"), {"size": 1, "note": None})
        assert (item.double, repr(item), cls.__doc__) == (2, "<k>", "A pair.")
        assert item._replace(size=4).double == 8 and type(item._replace(size=4)) is cls
        assert pickle.loads(pickle.dumps(item)) == item
        assert (cls.__name__, cls.__qualname__, cls.__module__) == (cls.__name__, cls.__name__, __name__)
        assert list(cls.__annotations__) == ["key", "size", "note"]
        with pytest.raises(TypeError):
            cls()  # type: ignore[call-arg]


def test_lean_named_tuple_refuses_a_required_field_after_a_default() -> None:
    with pytest.raises(TypeError, match="without a default follows"):

        class Bad(LeanNamedTuple):
            first: int = 0
            second: int  # type: ignore[misc]  # what the test is about


def test_client_named_tuples_are_tuples_with_their_fields() -> None:
    assert DSN("k", "http://hub") == ("k", "http://hub") and DSN._fields == ("key", "base_url")
    assert "secret" not in repr(DSN("key-secret", "http://hub"))  # the method of the class body
    assert POLICIES[Level.WARNING].push and POLICIES[Level.WARNING]._fields[0] == "feed"
    assert Attempt(Outcome.SENT, data={"accepted": 2}).accepted == 2
    assert Attempt(Outcome.RETRY)._asdict()["attempts"] == 1
    assert tuple(SendResult(1, 0, 202, 1)) == (1, 0, 202, 1)
