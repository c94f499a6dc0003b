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
from typing import TYPE_CHECKING, Any, Final

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


def notification_request(
    *,
    users: Iterable[str | int] | None = None,
    segment: str | None = None,
    filter: str | None = None,
    topic: str | None = None,
    template: str | None = None,
    title: str | None = None,
    body: str | None = None,
    data: Mapping[str, Any] | None = None,
    image: str | None = None,
    link: str | None = None,
    actions: Sequence[Mapping[str, str]] | None = None,
    category: str | None = None,
    level: str | int = "info",
    ttl: int | None = None,
    collapse_key: str | None = None,
    idempotency_key: str | None = None,
    at: _dt.datetime | str | None = None,
    delay: float | str | _dt.timedelta | None = None,
    local_time: str | None = None,
    date: _dt.date | str | None = None,
    timezone: str | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /v1/notifications`` (see :func:`push_to`); ``data`` redacted."""
    audience = {
        key: value
        for key, value in (
            ("users", [str(u) for u in users] if users is not None else None),
            ("segment", segment),
            ("filter", filter),
            ("topic", topic),
        )
        if value is not None
    }
    if not audience:
        raise SendError("push_to: name an audience (users=, segment=, filter= or topic=)")
    if (template is None) == (title is None):
        raise SendError("push_to: give either template= or title=")
    schedule: dict[str, Any] = {}
    if at is not None:
        schedule["at"] = _time(at)
    if delay is not None:
        schedule["delay"] = delay.total_seconds() if isinstance(delay, _dt.timedelta) else delay
    if local_time is not None:
        schedule["local_time"] = local_time
    if date is not None:
        schedule["date"] = date.isoformat() if isinstance(date, _dt.date) else date
    if timezone is not None:
        schedule["timezone"] = timezone
    request: dict[str, Any] = {
        "audience": audience,
        "level": level,
        "idempotency_key": idempotency_key or str(uuid.uuid4()),
    }
    optional = {
        "template": template,
        "title": title,
        "body": body,
        "data": DEFAULT_REDACTOR.value(dict(data)) if data is not None else None,
        "image": image,
        "link": link,
        "actions": [dict(a) for a in actions] if actions is not None else None,
        "category": category,
        "ttl": ttl,
        "collapse_key": collapse_key,
        "schedule": schedule or None,
    }
    request.update({key: value for key, value in optional.items() if value is not None})
    return request


def push_to(
    *,
    users: Iterable[str | int] | None = None,
    segment: str | None = None,
    filter: str | None = None,
    topic: str | None = None,
    template: str | None = None,
    title: str | None = None,
    body: str | None = None,
    data: Mapping[str, Any] | None = None,
    image: str | None = None,
    link: str | None = None,
    actions: Sequence[Mapping[str, str]] | None = None,
    category: str | None = None,
    level: str | int = "info",
    ttl: int | None = None,
    collapse_key: str | None = None,
    idempotency_key: str | None = None,
    at: _dt.datetime | str | None = None,
    delay: float | str | _dt.timedelta | None = None,
    local_time: str | None = None,
    date: _dt.date | str | None = None,
    timezone: str | None = None,
    dsn: str | DSN | None = None,
    timeout: float = 10.0,
    retries: int = 3,
    transport: httpx.BaseTransport | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> dict[str, Any]:
    """Send a notification to app users; returns the hub's notification (``id``, ``status``...).

    Audience: ``users`` (ids), ``segment``, ``filter``, ``topic`` (several: all must match). Content:
    ``template`` (rendered per user with ``data``) or ``title``/``body``; options ``data``, ``image``,
    ``link``, ``actions``, ``category``, ``level``, ``ttl``, ``collapse_key``, ``idempotency_key``.
    Schedule: none (now), ``at`` (aware datetime or RFC 3339), ``delay`` (seconds, "2h" or a
    timedelta), or ``local_time="09:00"`` with ``date`` in each recipient's zone (``timezone`` for
    those without one). Raises :class:`~pushlog.SendError`.
    """
    request = notification_request(
        users=users,
        segment=segment,
        filter=filter,
        topic=topic,
        template=template,
        title=title,
        body=body,
        data=data,
        image=image,
        link=link,
        actions=actions,
        category=category,
        level=level,
        ttl=ttl,
        collapse_key=collapse_key,
        idempotency_key=idempotency_key,
        at=at,
        delay=delay,
        local_time=local_time,
        date=date,
        timezone=timezone,
    )
    hub = HubTransport(users_dsn(dsn), timeout=timeout, transport=transport, clock=clock)
    try:
        answer = hub.post_json(NOTIFICATIONS_PATH, request, timeout=timeout, retries=retries)
    finally:
        hub.close()
    return dict(answer or {})
