"""Triggered notifications: a log event naming a user becomes that user's notification (DESIGN §8).

:func:`run_triggers` reads the events that arrived since the cursor (``store/triggers``), and for each
trigger an event matches (its ``channel``; its exact ``title`` when the trigger names one) and whose
metadata names a user (``user_key``, a string or number), creates a notification: the trigger's
template for that user, the event's metadata as ``data``, due after the trigger's delay. Its
idempotency key is ``trigger:<name>:<value of metadata once_key, else the event id>``, so a trigger
fires at most once per key (a second event with the same key finds the first notification). The
cursor moves in the same transaction: a crash reads the same events again and makes nothing twice.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Final

import sqlalchemy as sa

from ..store import notifications as notification_store
from ..store import templates as template_store
from ..store import triggers as store
from ._create import template_content

#: Events read per round (the runner comes back at once while rounds are full).
BATCH: Final = 500


def _matches(trigger: Any, event: Any) -> str | None:
    """The user ``event`` names for ``trigger``, or None when it does not match."""
    if trigger.channel is not None and event.channel != trigger.channel:
        return None
    if trigger.title is not None and event.title != trigger.title:
        return None
    user = (event.metadata or {}).get(trigger.user_key)
    if isinstance(user, bool) or not isinstance(user, str | int) or not str(user).strip():
        return None
    return str(user)


def run_triggers(conn: sa.Connection, *, now: _dt.datetime, ttl: int) -> tuple[int, int]:
    """Create the notifications of up to :data:`BATCH` events after the cursor; returns
    (notifications created, events read)."""
    position = store.cursor(conn)
    if position is None:  # no trigger was ever made
        return 0, 0
    found = store.events_after(conn, position, BATCH)
    if not found:
        return 0, 0
    created = 0
    templates: dict[str, dict[str, Any] | None] = {}
    for trigger in store.rows(conn):
        if trigger.template not in templates:
            templates[trigger.template] = template_store.get_template(conn, trigger.template)
        template = templates[trigger.template]
        if template is None:  # deleted since: the trigger waits for it (its events are passed)
            continue
        for event in found:
            user = _matches(trigger, event)
            if user is None:
                continue
            metadata = dict(event.metadata or {})
            once = metadata.get(trigger.once_key) if trigger.once_key else None
            delay = _dt.timedelta(seconds=trigger.delay_s or 0)
            values = {
                "audience": {"users": [user]},
                "content": template_content(template),
                "options": {"data": metadata, "trigger": trigger.name, "event_id": event.id},
                "level": trigger.level,
                "ttl": ttl,
                "idempotency_key": f"trigger:{trigger.name}:{once if once is not None else event.id}"[:128],
                "schedule": {"delay_s": trigger.delay_s} if trigger.delay_s else {},
                "start_at": now + delay,
            }
            created += notification_store.create(conn, values, now=now)[1]
    store.move_cursor(conn, found[-1].seq)
    return created, len(found)
