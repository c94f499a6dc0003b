"""From a filter's syntax tree to one SQLAlchemy Core condition that runs in the database.

An audience is evaluated over **recipient rows**: every app user (a ``users`` row, or a ``user_id``
some device names without one) joined with each of their devices, or with no device (device columns
NULL). A condition on a user field holds for all of a user's rows, one on a device field picks the
devices it names (``device.platform = "ios"`` reaches only the user's iOS devices). User fields the
devices also report (``locale``, ``timezone``) take the user's value, else the device's.

Every condition is two-valued (never SQL NULL): a comparison on a missing value is false and ``!=``
on a missing value is true, so ``not`` means what it says (``not plan = "pro"`` includes users
without a plan). The table of fields below is the language's vocabulary (docs/notifications.md).
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from ..store._tables import devices, user_attributes, user_topics, users
from ._parse import And, Compare, Exists, FilterError, In, Node, Not, Or, Value, Within

#: Every user, also those only their devices name; the FROM of every audience query. (UNION ALL of
#: the users and the distinct ids of devices whose user has no row: no sort over all users.)
_orphans = sa.alias(devices, "orphan_devices")
audience_users = sa.union_all(
    sa.select(users.c.id.label("id")),
    sa.select(_orphans.c.user_id.label("id"))
    .where(_orphans.c.user_id.is_not(None), ~sa.exists().where(users.c.id == _orphans.c.user_id))
    .distinct(),
).subquery("audience_users")
USER_ID: Final = audience_users.c.id

#: Recipient rows: user x device (LEFT JOINs: users without a ``users`` row or without devices too).
RECIPIENTS: Final = audience_users.outerjoin(users, users.c.id == USER_ID).outerjoin(
    devices, devices.c.user_id == USER_ID
)

#: What a user's row says, else what the device reports.
EFFECTIVE_LOCALE: Final = sa.func.coalesce(users.c.locale, devices.c.locale)
EFFECTIVE_TIMEZONE: Final = sa.func.coalesce(users.c.timezone, devices.c.timezone)


class Kind(enum.Enum):
    TEXT = "text"
    TIME = "time"


@dataclass(frozen=True, slots=True)
class Field:
    column: Any
    kind: Kind
    about: str


#: The fields a filter may name (besides ``custom.NAME``); see the module docstring.
FIELDS: Final[dict[str, Field]] = {
    "id": Field(USER_ID, Kind.TEXT, "the user's id"),
    "locale": Field(EFFECTIVE_LOCALE, Kind.TEXT, "the user's locale, else the device's"),
    "timezone": Field(EFFECTIVE_TIMEZONE, Kind.TEXT, "the user's IANA time zone, else the device's"),
    "plan": Field(users.c.plan, Kind.TEXT, "the user's plan"),
    "country": Field(users.c.country, Kind.TEXT, "the user's country (ISO 3166 alpha-2)"),
    "created_at": Field(users.c.created_at, Kind.TIME, "when the user was first PUT"),
    "updated_at": Field(users.c.updated_at, Kind.TIME, "when the user was last PUT"),
    "device.kind": Field(devices.c.kind, Kind.TEXT, "webpush, fcm or apns"),
    "device.platform": Field(
        devices.c.platform, Kind.TEXT, "what the device reported (ios, android, web...)"
    ),
    "device.app_version": Field(devices.c.app_version, Kind.TEXT, "the app version the device reported"),
    "device.locale": Field(devices.c.locale, Kind.TEXT, "the locale the device reported"),
    "device.timezone": Field(devices.c.timezone, Kind.TEXT, "the time zone the device reported"),
    "last_seen": Field(devices.c.last_seen_at, Kind.TIME, "when the device last registered or refreshed"),
}
FIELDS["user_id"] = FIELDS["id"]
FIELDS["device.last_seen_at"] = FIELDS["last_seen"]
_CUSTOM: Final = "custom."
_TOPIC: Final = "topic"
_KNOWN: Final = ", ".join([*sorted(FIELDS), "custom.NAME", "topic"])

_OPS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _type_name(value: Value) -> str:
    return (
        "true or false" if isinstance(value, bool) else "a number" if isinstance(value, float) else "a string"
    )


def _attr_value(value: Value) -> tuple[Any, Any]:
    """(column, value) of ``user_attributes`` a custom attribute's value is compared on."""
    if isinstance(value, bool):
        return user_attributes.c.text_value, "true" if value else "false"
    if isinstance(value, float):
        return user_attributes.c.num_value, value
    return user_attributes.c.text_value, value


def _custom(key: str, column: int, condition: Callable[[], Any] | None) -> sa.ColumnElement[bool]:
    if not key or len(key) > 64:
        raise FilterError(column, "custom attribute names are 1-64 characters: custom.NAME")
    where = [user_attributes.c.user_id == USER_ID, user_attributes.c.key == key]
    if condition is not None:
        where.append(condition())
    return sa.exists().where(*where)


class _Compiler:
    def __init__(self, now: _dt.datetime) -> None:
        self._now = now

    def node(self, node: Node) -> sa.ColumnElement[bool]:
        if isinstance(node, And):
            return sa.and_(*(self.node(part) for part in node.parts))
        if isinstance(node, Or):
            return sa.or_(*(self.node(part) for part in node.parts))
        if isinstance(node, Not):
            return sa.not_(self.node(node.inner))
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, In):
            return self._in(node)
        if isinstance(node, Exists):
            return self._exists(node)
        return self._within(node)

    def _field(self, name: str, column: int) -> Field:
        found = FIELDS.get(name)
        if found is None:
            raise FilterError(column, f"unknown field {name!r}; fields are {_KNOWN}")
        return found

    def _compare(self, node: Compare) -> sa.ColumnElement[bool]:
        op = _OPS[node.op]
        if node.field.startswith(_CUSTOM):
            attr_column, value = _attr_value(node.value)
            if node.op == "!=":  # missing, or present with another value
                return sa.not_(_custom(node.field[len(_CUSTOM) :], node.column, lambda: attr_column == value))
            if isinstance(node.value, bool) and node.op != "=":
                raise FilterError(node.column, f"{node.field}: true and false compare only with = and !=")
            return _custom(node.field[len(_CUSTOM) :], node.column, lambda: op(attr_column, value))
        if node.field == _TOPIC:
            if node.op not in ("=", "!="):
                raise FilterError(node.column, "topic compares only with =, !=, in and not in")
            found = self._topics(node.column, (node.value,))
            return found if node.op == "=" else sa.not_(found)
        field = self._field(node.field, node.column)
        if field.kind is Kind.TIME:
            raise FilterError(
                node.column, f"{node.field} is a time: use 'within' (e.g. {node.field} within 30d)"
            )
        if not isinstance(node.value, str):
            raise FilterError(
                node.column, f"{node.field} is text: compare it with a string, not {_type_name(node.value)}"
            )
        if node.op == "!=":
            return sa.or_(field.column.is_(None), field.column != node.value)
        return sa.and_(field.column.is_not(None), op(field.column, node.value))

    def _in(self, node: In) -> sa.ColumnElement[bool]:
        if node.field.startswith(_CUSTOM):
            kinds = {type(v) for v in node.values}
            if len(kinds) > 1:
                raise FilterError(node.column, f"{node.field} in (...): give values of one type")
            attr_column, _ = _attr_value(node.values[0])
            values = [_attr_value(v)[1] for v in node.values]
            return _custom(node.field[len(_CUSTOM) :], node.column, lambda: attr_column.in_(values))
        if node.field == _TOPIC:
            return self._topics(node.column, node.values)
        field = self._field(node.field, node.column)
        if field.kind is Kind.TIME:
            raise FilterError(node.column, f"{node.field} is a time: use 'within'")
        for value in node.values:
            if not isinstance(value, str):
                raise FilterError(node.column, f"{node.field} is text: list strings, not {_type_name(value)}")
        return sa.and_(field.column.is_not(None), field.column.in_(list(node.values)))

    def _topics(self, column: int, values: tuple[Value, ...]) -> sa.ColumnElement[bool]:
        names = []
        for value in values:
            if not isinstance(value, str):
                raise FilterError(column, f"topic names are strings, not {_type_name(value)}")
            names.append(value)
        return sa.exists().where(user_topics.c.user_id == USER_ID, user_topics.c.topic.in_(names))

    def _exists(self, node: Exists) -> sa.ColumnElement[bool]:
        if node.field.startswith(_CUSTOM):
            return _custom(node.field[len(_CUSTOM) :], node.column, None)
        if node.field == _TOPIC:
            return sa.exists().where(user_topics.c.user_id == USER_ID)
        return self._field(node.field, node.column).column.is_not(None)  # type: ignore[no-any-return]

    def _within(self, node: Within) -> sa.ColumnElement[bool]:
        field = self._field(node.field, node.column)
        if field.kind is not Kind.TIME:
            raise FilterError(
                node.column,
                f"'within' needs a time field (last_seen, created_at, updated_at), not {node.field}",
            )
        try:
            since = self._now - _dt.timedelta(seconds=node.seconds)
        except OverflowError:
            raise FilterError(node.column, "that duration reaches before year 1") from None
        return sa.and_(field.column.is_not(None), field.column >= since)


def compile_filter(node: Node, *, now: _dt.datetime) -> sa.ColumnElement[bool]:
    """The condition over :data:`RECIPIENTS` rows; :class:`FilterError` for unknown fields or values
    of the wrong type. ``now`` anchors ``within``."""
    return _Compiler(now).node(node)
