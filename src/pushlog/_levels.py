"""Levels decide what happens to an event (DESIGN §2).

One table, :data:`POLICIES`, says for each standard level what every decision about it is, and each
field is read by the code that makes that decision (nothing restates a level comparison):

* ``feed``: whether it reaches the feed by default; :data:`FEED_FLOOR`, the lowest such level, is
  ``PushHandler``'s default level (DEBUG stays out unless the handler is set lower);
* ``push``: whether it is pushed unless the event says otherwise (``Event.pushed``, the client queue's
  pushed lane, the hub's ingest and heartbeat alerts); :data:`PUSH_FLOOR` is a new device's default
  minimum level;
* ``urgent``: its own push budget on the client, and a notification that stays until touched;
* ``webpush_urgency``: the Web Push ``Urgency`` header;
* ``apns_interruption_level``, ``apns_priority``: the APNs payload's ``interruption-level`` and the
  ``apns-priority`` header (hub/delivery/apns);
* ``fcm_priority``: FCM's ``android.priority`` (hub/delivery/fcm);
* ``repeat_until_acknowledged``: the hub re-pushes it every ``critical_repeat_interval`` until acked.

Everything else that names a level (stdlib numbers, custom numeric levels, structlog method names,
Sentry's ``fatal``, the wire's lowercase names) goes through :func:`parse_level`, which always lands
on one of the five standard levels.
"""

from __future__ import annotations

import enum

from ._lean_typing import NamedTuple

TYPE_CHECKING = False  # without importing typing: see _lean_typing.py
if TYPE_CHECKING:
    from typing import Final


class Level(enum.IntEnum):
    """The five levels pushlog knows; numbers match :mod:`logging`."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50

    @property
    def wire_name(self) -> str:
        """The lowercase name used on the wire and in the API (``"warning"``)."""
        return self.name.lower()


class Policy(NamedTuple):
    """What a level means for delivery (see the module docstring for who reads each field).

    A named tuple, not a dataclass: ``dataclasses`` (with ``inspect`` and ``ast``) stays out of
    ``import pushlog``. Built with keywords only, by convention."""

    feed: bool
    push: bool
    urgent: bool
    webpush_urgency: str | None
    apns_interruption_level: str | None
    apns_priority: int | None
    fcm_priority: str | None
    repeat_until_acknowledged: bool


def _not_pushed(*, feed: bool) -> Policy:
    return Policy(
        feed=feed,
        push=False,
        urgent=False,
        webpush_urgency=None,
        apns_interruption_level=None,
        apns_priority=None,
        fcm_priority=None,
        repeat_until_acknowledged=False,
    )


#: DESIGN.md section 2, row by row. ``critical`` as APNs interruption level needs Apple's entitlement:
#: the APNs sender upgrades CRITICAL's ``time-sensitive`` only when the hub says it has it.
POLICIES: Final[dict[Level, Policy]] = {
    Level.DEBUG: _not_pushed(feed=False),
    Level.INFO: _not_pushed(feed=True),
    Level.WARNING: Policy(
        feed=True,
        push=True,
        urgent=False,
        webpush_urgency="normal",
        apns_interruption_level="active",
        apns_priority=10,
        fcm_priority="NORMAL",
        repeat_until_acknowledged=False,
    ),
    Level.ERROR: Policy(
        feed=True,
        push=True,
        urgent=False,
        webpush_urgency="high",
        apns_interruption_level="time-sensitive",
        apns_priority=10,
        fcm_priority="HIGH",
        repeat_until_acknowledged=False,
    ),
    Level.CRITICAL: Policy(
        feed=True,
        push=True,
        urgent=True,
        webpush_urgency="high",
        apns_interruption_level="time-sensitive",
        apns_priority=10,
        fcm_priority="HIGH",
        repeat_until_acknowledged=True,
    ),
}

#: The lowest level that reaches the feed by default: ``PushHandler``'s default level.
FEED_FLOOR: Final = min(level for level, policy in POLICIES.items() if policy.feed)
#: The lowest level that is pushed by default: a new device's default minimum level.
PUSH_FLOOR: Final = min(level for level, policy in POLICIES.items() if policy.push)


#: Names accepted by :func:`parse_level`, lowercase: stdlib names, structlog method names, Sentry levels.
LEVEL_NAMES: Final[dict[str, Level]] = {
    "debug": Level.DEBUG,
    "trace": Level.DEBUG,
    "info": Level.INFO,
    "msg": Level.INFO,
    "log": Level.INFO,
    "notice": Level.INFO,
    "warning": Level.WARNING,
    "warn": Level.WARNING,
    "error": Level.ERROR,
    "err": Level.ERROR,
    "exception": Level.ERROR,
    "critical": Level.CRITICAL,
    "fatal": Level.CRITICAL,
}


_EXACT: Final[dict[int, Level]] = {int(level): level for level in Level}


def level_from_number(number: int) -> Level:
    """Map any numeric level to the nearest standard level at or below it.

    Numbers below DEBUG (including NOTSET) count as DEBUG; numbers above CRITICAL as CRITICAL.
    """
    exact = _EXACT.get(number)
    if exact is not None:
        return exact
    for level in reversed(Level):
        if number >= level:
            return level
    return Level.DEBUG


def parse_level(value: object) -> Level:
    """Turn a level given in any accepted form into a :class:`Level`.

    Accepts :class:`Level`, ints (custom levels map down), numeric strings, and names
    (case-insensitive): stdlib names, structlog method names and Sentry's levels. Raises
    :class:`ValueError` with a one-line message for anything else.
    """
    if isinstance(value, Level):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a level: {value!r}")
    if isinstance(value, int):
        return level_from_number(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in LEVEL_NAMES:
            return LEVEL_NAMES[text]
        if text.lstrip("-").isdigit():
            return level_from_number(int(text))
    raise ValueError(f"unknown level {value!r}; use one of debug, info, warning, error, critical or a number")


def policy_for(level: object) -> Policy:
    """The delivery policy for a level given in any form :func:`parse_level` accepts."""
    return POLICIES[parse_level(level)]
