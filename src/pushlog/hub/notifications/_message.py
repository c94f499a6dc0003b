"""From a claimed notification delivery to the :class:`PushContent` its user sees.

The content is rendered for each recipient (their own text, in their locale) and has the same shape
as a team push's (``hub/delivery/_content.py``), so every transport renders it the same way:
``refs`` names the notification (``notification_id``) instead of an event, the notification's
``data``, ``category``, ``actions`` and ``image`` go along, and ``link`` (the template's rendered
one, else the notification's) is also what a tap opens. Level decides urgency as for events
(DESIGN §2).
"""

from __future__ import annotations

from typing import Any

from ..._levels import level_from_number
from ..delivery._content import Action, PushContent
from ..store.outbox import Claimed
from ._render import render


def content_for_notification(claim: Claimed) -> PushContent:
    """One user's push for a claimed notification delivery; :class:`RenderError` when the template
    does not render for this user."""
    notification = claim.notification
    assert notification is not None
    user = claim.user or {}
    options: dict[str, Any] = dict(notification.get("options") or {})
    locale = user.get("locale") or claim.device.get("locale")
    text = render(notification["content"], user=user, data=options.get("data") or {}, locale=locale)
    link = text.link or options.get("link")
    actions = tuple(
        Action(id=str(a["action"]), title=str(a["title"]), url=a.get("url") or None)
        for a in options.get("actions") or ()
    )
    return PushContent(
        title=text.title,
        body=text.body or "",
        level=level_from_number(int(notification["level"])),
        link=link,
        image=text.image or options.get("image"),
        actions=actions,
        data=options.get("data") or {},
        category=options.get("category"),
        collapse_key=notification.get("collapse_key") or notification["id"],
        url=link,
        ts=notification.get("expanded_at"),
        refs={"notification_id": str(notification["id"])},
    )
