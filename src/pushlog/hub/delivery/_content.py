"""What a push shows, once, for every transport: :class:`PushContent` and its :class:`Action` buttons.

A team push (a log event) and an app user's notification both become one :class:`PushContent`; each
sender renders it in its transport's shape (Web Push JSON for the service worker, FCM HTTP v1's
``notification``/``data``/``android``/``apns``/``webpush``, APNs' ``aps`` plus custom keys). The
constructor takes plain values, so the event path (``_payload.content_for_event``) and the
notification path build it the same way.

:func:`document` is the pushlog JSON every transport carries: the Web Push body as is, APNs' custom
keys around ``aps``, FCM's ``data`` map with each value as a string. Its keys (docs/architecture.md,
"Push payload"): ``v``, the content's ``refs`` (``event_id`` for a team push), ``delivery_id``,
``receipt``, ``title``, ``body``, ``level``, ``ts``, ``count``, ``url``, ``link``, ``tag``,
``require_interaction``, ``actions``, ``round``, and when set ``image``, ``category``, ``data`` and
``truncated``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..._levels import POLICIES, Level
from .._clock import format_time

#: Action ids pushlog gives meaning to on team pushes: ``open`` shows the event in the hub's web app,
#: ``ack`` acknowledges it (stops a CRITICAL re-push on every device).
OPEN: Final = "open"
ACK: Final = "ack"


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """A button on the notification: ``id`` is what the device reports, ``url`` what it opens (if any)."""

    id: str
    title: str
    url: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"action": self.id, "title": self.title}
        if self.url:
            out["url"] = self.url
        return out


#: The team push's own buttons (DESIGN §5: the web app acknowledges from the notification).
OPEN_ACTION: Final = Action(id=OPEN, title="Open")
ACK_ACTION: Final = Action(id=ACK, title="Acknowledge")

#: The APNs category (and FCM ``click_action``) of a team push: an iOS app registers it with the
#: ``open`` and ``ack`` actions to show them as buttons.
TEAM_CATEGORY: Final = "pushlog.event"


@dataclass(frozen=True, slots=True, kw_only=True)
class PushContent:
    """What one push shows and carries, independent of transport and recipient.

    ``level`` decides urgency (Web Push ``Urgency``, FCM priority, APNs interruption level; DESIGN §2)
    and whether the notification stays until touched. ``collapse_key``: pushes with the same key
    replace each other on the device. ``url`` is the hub's page for it (the web app's feed line),
    ``link`` the sender's deep link or URL opened on tap. ``data`` is custom JSON for the app's code.
    ``refs`` names what the push is about for the device's replies (``{"event_id": ...}``).
    ``truncated`` is set by the fitting rule (:mod:`._fit`) when something had to go.
    """

    title: str
    body: str = ""
    level: Level = Level.WARNING
    link: str | None = None
    image: str | None = None
    actions: tuple[Action, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    category: str | None = None
    collapse_key: str | None = None
    url: str | None = None
    ts: _dt.datetime | None = None
    count: int = 1
    refs: Mapping[str, str] = field(default_factory=dict)
    truncated: bool = False

    @property
    def urgency(self) -> str:
        """The Web Push ``Urgency`` for the level (DESIGN §2); ``normal`` for levels that never push."""
        return POLICIES[self.level].webpush_urgency or "normal"

    @property
    def require_interaction(self) -> bool:
        """Whether the notification stays until touched (CRITICAL)."""
        return POLICIES[self.level].urgent


def team_actions(own: tuple[Action, ...], level: Level) -> tuple[Action, ...]:
    """The buttons of a team push: the event's own actions plus Open and Acknowledge.

    ``ack`` always acknowledges, so an event's own action with that id is left out; an own ``open``
    takes the built-in Open's place. CRITICAL puts Acknowledge first (browsers show only the first two
    buttons); other levels show the event's own actions first.
    """
    mine = tuple(a for a in own if a.id != ACK)
    opened = () if any(a.id == OPEN for a in mine) else (OPEN_ACTION,)
    if POLICIES[level].urgent:
        return (ACK_ACTION, *mine, *opened)
    return (*mine, *opened, ACK_ACTION)


def document(content: PushContent, *, delivery_id: str, receipt: str | None, repush: int) -> dict[str, Any]:
    """The pushlog JSON for one delivery of ``content`` (see the module docstring); ``repush`` is its
    ``round`` (0 = first push, 1.. = CRITICAL re-pushes)."""
    doc: dict[str, Any] = {"v": 1, **content.refs, "delivery_id": delivery_id}
    if receipt is not None:
        doc["receipt"] = receipt
    doc.update(
        title=content.title,
        body=content.body,
        level=content.level.wire_name,
        ts=format_time(content.ts),
        count=content.count,
        url=content.url,
        link=content.link,
        tag=content.collapse_key,
        require_interaction=content.require_interaction,
        actions=[a.to_json() for a in content.actions],
        round=repush,
    )
    if content.image:
        doc["image"] = content.image
    if content.category:
        doc["category"] = content.category
    if content.data:
        doc["data"] = dict(content.data)
    if content.truncated:
        doc["truncated"] = True
    return doc
