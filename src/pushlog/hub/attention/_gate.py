"""The gate: the one decision, per (push, recipient), taken before a delivery row exists.

:func:`decide` is pure: the recipient's preferences, the push's facts, the moment, and a way to count
what the recipient already got (the outbox counts delivery rows in the database, so caps hold across
restarts and processes). Order of the checks, first that applies wins:

0. a feed-only (INFO) event: collected into the digest of recipients who asked for that
   (``digest_info``), else nothing;
1. an app user's minimum level and channels, and a category the person (or the app's default) turned
   off: skipped;
2. CRITICAL with ``critical_bypass`` (the default), or a push marked time-sensitive: delivered;
3. a category collected into the digest: held for the next digest;
4. quiet hours: held until they end, or skipped (feed only) when the person chose so;
5. a frequency cap reached: held for the next digest;
6. otherwise delivered.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from ..._levels import POLICIES, level_from_number, parse_level
from ._prefs import DEFAULT_DOCUMENT, Category, PreferenceDocument, Reason, zone
from ._schedule import next_digest, quiet_until

#: How far back each cap period reaches.
PERIODS: Final = {"hour": _dt.timedelta(hours=1), "day": _dt.timedelta(days=1)}


@dataclass(frozen=True, slots=True)
class Deliver:
    """Queue the push now."""


@dataclass(frozen=True, slots=True)
class Hold:
    """Keep the push until ``until``, then deliver it (with others that waited, as one summary)."""

    until: _dt.datetime
    reason: Reason


@dataclass(frozen=True, slots=True)
class Digest:
    """Collect the push into the digest that goes out at ``until``."""

    until: _dt.datetime
    reason: Reason


@dataclass(frozen=True, slots=True)
class Skip:
    """Do not push; the event stays in the feed."""

    reason: Reason


Decision = Deliver | Hold | Digest | Skip
DELIVER: Final = Deliver()


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    """One device's effective preferences: its own document, else its user's, else the defaults.

    ``user`` says whether the document's ``min_level``/``channels`` apply here (an app user's; a team
    device's live on its row and were applied before the gate). ``device_timezone`` is what the
    device reported, used when the document names no zone.
    """

    document: PreferenceDocument = DEFAULT_DOCUMENT
    user: bool = False
    device_timezone: str | None = None
    categories: Mapping[str, Category] = field(default_factory=dict)

    @property
    def tz(self) -> _dt.tzinfo:
        return zone(self.document.timezone or self.device_timezone)

    def category_mode(self, category: str | None) -> str:
        if category is None:
            return "push"
        chosen = self.document.categories.get(category)
        if chosen is not None:
            return chosen
        known = self.categories.get(category)
        return known.default if known is not None else "push"


@dataclass(frozen=True, slots=True, kw_only=True)
class PushFacts:
    """What the gate needs to know about a push: its level, channel, category (a log event's
    category is its channel) and whether the sender marked it time-sensitive."""

    level: int
    channel: str | None = None
    category: str | None = None
    time_sensitive: bool = False
    #: Not pushed by its level (INFO): reaches only recipients collecting such events in the digest.
    feed_only: bool = False

    @property
    def topic(self) -> str | None:
        """What category-wide choices and caps are keyed by."""
        return self.category if self.category is not None else self.channel


#: ``sent_within(period, category)``: how many pushes the recipient got in the last ``period``
#: (only ``category``'s when not None), counted by the caller.
SentWithin = Callable[[_dt.timedelta, str | None], int]


def decide(
    recipient: Recipient, push: PushFacts, now: _dt.datetime, *, sent_within: SentWithin
) -> Decision | None:
    """What happens to ``push`` for ``recipient`` at ``now`` (see the module docstring); ``None`` for a
    feed-only event the recipient does not collect (no row at all, as for a level below min_level)."""
    doc = recipient.document
    if push.feed_only:
        if not doc.digest_info or recipient.category_mode(push.topic) == "off":
            return None
        return Digest(next_digest(doc.digest, recipient.tz, now), Reason.DIGEST)
    if recipient.user:
        if doc.min_level is not None and push.level < int(parse_level(doc.min_level)):
            return Skip(Reason.BELOW_MIN_LEVEL)
        if doc.channels is not None and push.channel not in doc.channels:
            return Skip(Reason.CHANNEL_OFF)
    mode = recipient.category_mode(push.topic)
    if mode == "off":
        return Skip(Reason.CATEGORY_OFF)
    if push.time_sensitive or (POLICIES[level_from_number(push.level)].urgent and doc.critical_bypass):
        return DELIVER
    tz = recipient.tz
    if mode == "digest":
        return Digest(next_digest(doc.digest, tz, now), Reason.DIGEST)
    if doc.quiet_hours:
        end = quiet_until(doc.quiet_hours, tz, now)
        if end is not None:
            return Skip(Reason.QUIET_HOURS) if doc.quiet_mode == "feed" else Hold(end, Reason.QUIET_HOURS)
    for cap in doc.caps:
        if cap.category is not None and cap.category != push.topic:
            continue
        if sent_within(PERIODS[cap.per], cap.category) >= cap.max:
            return Digest(next_digest(doc.digest, tz, now), Reason.FREQUENCY_CAP)
    return DELIVER


def release_at(recipient: Recipient, due: _dt.datetime) -> _dt.datetime:
    """When pushes held until ``due`` may go out: ``due``, or the end of quiet hours holding it (a
    digest that falls into the night waits for the morning)."""
    end = (
        quiet_until(recipient.document.quiet_hours, recipient.tz, due)
        if recipient.document.quiet_hours
        else None
    )
    return end or due
