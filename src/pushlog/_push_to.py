"""``pushlog.push_to``: send a notification to an app's users (DESIGN §8) through the client's transport.

One POST to ``/v1/notifications`` with a ``users``-scoped key, through :class:`HubTransport` (its
retries and ``Retry-After`` handling). The DSN is ``dsn=``, else ``PUSHLOG_USERS_DSN``, else
``PUSHLOG_DSN``. Every call carries an idempotency key (a fresh one unless given), so a retried POST
never makes a second notification. ``data`` goes through the client's redaction rules like event
metadata; the user-facing text (title, body, template) is sent as written.

Unlike logging, this is an explicit request: it blocks until the hub answered and raises
:class:`~pushlog.SendError` when it could not be made.
"""

from __future__ import annotations

import datetime as _dt
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypedDict, Unpack

from ._clock import SYSTEM_CLOCK, Clock
from ._dsn import DSN, DSNError, parse_dsn
from ._redact import DEFAULT_REDACTOR
from ._transport import HubTransport, SendError, resolve_dsn

if TYPE_CHECKING:
    import httpx

USERS_ENV_VAR: Final = "PUSHLOG_USERS_DSN"
NOTIFICATIONS_PATH: Final = "/v1/notifications"


def users_dsn(dsn: str | DSN | None = None, environ: Mapping[str, str] | None = None) -> DSN:
    """``dsn``, else ``PUSHLOG_USERS_DSN``, else ``PUSHLOG_DSN``; :class:`SendError` when none is usable."""
    env = os.environ if environ is None else environ
    if dsn is None and env.get(USERS_ENV_VAR, "").strip():
        try:
            return parse_dsn(env[USERS_ENV_VAR].strip())
        except DSNError as exc:
            raise SendError(f"{USERS_ENV_VAR}: {exc}") from None
    return resolve_dsn(dsn)


def _time(value: _dt.datetime | str) -> str:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise SendError("push_to(at=...): give an aware datetime (with a time zone)")
        return value.isoformat()
    return value


class NotificationFields(TypedDict, total=False):
    """What one notification says, to whom and when: the keyword arguments of :func:`push_to`, declared
    once (:func:`notification_request` turns them into the request body). ``None`` is the same as
    leaving a field out."""

    users: Iterable[str | int] | None
    segment: str | None
    filter: str | None
    topic: str | None
    template: str | None
    title: str | None
    body: str | None
    data: Mapping[str, Any] | None
    image: str | None
    link: str | None
    actions: Sequence[Mapping[str, str]] | None
    category: str | None
    level: str | int
    ttl: int | None
    collapse_key: str | None
    idempotency_key: str | None
    at: _dt.datetime | str | None
    delay: float | str | _dt.timedelta | None
    local_time: str | None
    date: _dt.date | str | None
    timezone: str | None


def notification_request(**fields: Unpack[NotificationFields]) -> dict[str, Any]:
    """The JSON body of ``POST /v1/notifications`` (see :func:`push_to`); ``data`` redacted."""
    users = fields.get("users")
    audience = {
        key: value
        for key, value in (
            ("users", [str(u) for u in users] if users is not None else None),
            ("segment", fields.get("segment")),
            ("filter", fields.get("filter")),
            ("topic", fields.get("topic")),
        )
        if value is not None
    }
    if not audience:
        raise SendError("push_to: name an audience (users=, segment=, filter= or topic=)")
    template, title = fields.get("template"), fields.get("title")
    if (template is None) == (title is None):
        raise SendError("push_to: give either template= or title=")
    schedule: dict[str, Any] = {}
    if (at := fields.get("at")) is not None:
        schedule["at"] = _time(at)
    if (delay := fields.get("delay")) is not None:
        schedule["delay"] = delay.total_seconds() if isinstance(delay, _dt.timedelta) else delay
    if (local_time := fields.get("local_time")) is not None:
        schedule["local_time"] = local_time
    if (date := fields.get("date")) is not None:
        schedule["date"] = date.isoformat() if isinstance(date, _dt.date) else date
    if (timezone := fields.get("timezone")) is not None:
        schedule["timezone"] = timezone
    request: dict[str, Any] = {
        "audience": audience,
        "level": fields.get("level", "info"),
        "idempotency_key": fields.get("idempotency_key") or str(uuid.uuid4()),
    }
    data, actions = fields.get("data"), fields.get("actions")
    optional = {
        "template": template,
        "title": title,
        "body": fields.get("body"),
        "data": DEFAULT_REDACTOR.value(dict(data)) if data is not None else None,
        "image": fields.get("image"),
        "link": fields.get("link"),
        "actions": [dict(a) for a in actions] if actions is not None else None,
        "category": fields.get("category"),
        "ttl": fields.get("ttl"),
        "collapse_key": fields.get("collapse_key"),
        "schedule": schedule or None,
    }
    request.update({key: value for key, value in optional.items() if value is not None})
    return request


def push_to(
    *,
    dsn: str | DSN | None = None,
    timeout: float = 10.0,
    retries: int = 3,
    transport: httpx.BaseTransport | None = None,
    clock: Clock = SYSTEM_CLOCK,
    **fields: Unpack[NotificationFields],
) -> dict[str, Any]:
    """Send a notification to app users; returns the hub's notification (``id``, ``status``...).

    Audience: ``users`` (ids), ``segment``, ``filter``, ``topic`` (several: all must match). Content:
    ``template`` (rendered per user with ``data``) or ``title``/``body``; options ``data``, ``image``,
    ``link``, ``actions``, ``category``, ``level``, ``ttl``, ``collapse_key``, ``idempotency_key``.
    Schedule: none (now), ``at`` (aware datetime or RFC 3339), ``delay`` (seconds, "2h" or a
    timedelta), or ``local_time="09:00"`` with ``date`` in each recipient's zone (``timezone`` for
    those without one). Raises :class:`~pushlog.SendError`.
    """
    request = notification_request(**fields)
    hub = HubTransport(users_dsn(dsn), timeout=timeout, transport=transport, clock=clock)
    try:
        answer = hub.post_json(NOTIFICATIONS_PATH, request, timeout=timeout, retries=retries)
    finally:
        hub.close()
    return dict(answer or {})
