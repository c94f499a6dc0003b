"""From an outbox row to a :class:`PushMessage`: the event's :class:`PushContent` (once per event) and
the delivery's receipt.

The receipt token (``pushlog.hub.receipts.make_token``) lets the device report "delivered"/"opened"
and acknowledge without a key; ``url``, the event in the hub's feed, survives any cutting to size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..._duration import format_span
from ..._levels import Level, level_from_number
from .. import receipts
from .._clock import format_time
from ..attention import summary_fields
from ..store.outbox import Claimed
from ._base import PushMessage
from ._content import OPEN_ACTION, TEAM_CATEGORY, Action, PushContent, team_actions


def collapse_key(event: Mapping[str, Any]) -> str:
    """Repeats of one event (same fingerprint) replace each other; else the event id itself."""
    return str(event.get("fingerprint") or event["id"])


def event_url(base_url: str, event_id: str) -> str:
    """The event's line in the hub's web app."""
    return f"{base_url.rstrip('/')}/#/events/{event_id}"


def _own_actions(stored: Any) -> tuple[Action, ...]:
    """The event's ``actions`` column (``[{"action", "title", "url"?}]``) as :class:`Action` values."""
    out = []
    for item in stored or ():
        if isinstance(item, Mapping) and item.get("action") and item.get("title"):
            out.append(Action(id=str(item["action"]), title=str(item["title"]), url=item.get("url") or None))
    return tuple(out)


def content_for_event(event: Mapping[str, Any], *, base_url: str) -> PushContent:
    """What a team push of ``event`` (an events row) shows: its own fields plus Open/Acknowledge."""
    level = level_from_number(int(event["level"]))
    if event.get("resolved_at") is not None:
        return resolved_content(event, base_url=base_url)
    return PushContent(
        title=str(event["title"]),
        body=str(event.get("body") or ""),
        level=level,
        link=event.get("link") or None,
        image=event.get("image") or None,
        actions=team_actions(_own_actions(event.get("actions")), level),
        category=TEAM_CATEGORY,
        collapse_key=collapse_key(event),
        url=event_url(base_url, str(event["id"])),
        ts=event.get("ts"),
        count=int(event.get("count") or 1),
        refs={"event_id": str(event["id"])},
    )


def resolved_content(event: Mapping[str, Any], *, base_url: str) -> PushContent:
    """A resolved alert (``store/alerts.py``): "Resolved: …, resolved after 14 min" under the alert's
    own collapse key, so it replaces the notification in place; informational (normal urgency, no
    Acknowledge, not sticky), ``data.resolved`` for the app's code."""
    after = (event["resolved_at"] - event["received_at"]).total_seconds()
    return PushContent(
        title=f"Resolved: {event['title']}",
        body=f"resolved after {format_span(after)}",
        level=Level.INFO,
        actions=(OPEN_ACTION,),
        category=TEAM_CATEGORY,
        collapse_key=collapse_key(event),
        url=event_url(base_url, str(event["id"])),
        ts=event.get("ts"),
        count=int(event.get("count") or 1),
        data={"resolved": True, "resolved_at": format_time(event["resolved_at"])},
        refs={"event_id": str(event["id"])},
    )


def build_message(claim: Claimed, content: PushContent, *, receipt_secret: str, ttl: int) -> PushMessage:
    """The message for one claimed delivery of ``content`` (:func:`content_for_event` of its event)."""
    return PushMessage(
        delivery_id=claim.id,
        content=content,
        ttl=int(ttl),
        receipt=receipts.make_token(receipt_secret, claim.id),
        round=claim.round,
    )


def with_summary(content: PushContent, summary: Mapping[str, Any], *, base_url: str) -> PushContent:
    """``content`` standing for the pushes that waited with it (quiet hours, caps, digests): the
    summary's title, body (counts per channel, top titles), count and a link to the feed filtered to
    the period (:func:`pushlog.hub.attention.summary_fields`)."""
    fields = summary_fields(summary, base_url=base_url)
    return dataclasses.replace(
        content, title=fields["title"], body=fields["body"], count=fields["count"], url=fields["url"]
    )
