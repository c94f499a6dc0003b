"""The preference document a person keeps for a device or for an app user, and the app's categories.

One declaration (msgspec Structs) serves the API (``hub/_models.py`` re-exports them, so requests are
validated and ``/openapi.json`` documents them from here), the store (the document is kept as JSON,
``store/preferences.py``) and the gate (:mod:`._gate`). Nothing here touches the database.

A team device's minimum level and channels stay the ``devices`` row's columns (its owner); the
document carries everything else. An app user's document carries all of it.
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
import zoneinfo
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta, Struct

from ..._event import MAX_CHANNEL
from .._timezones import is_iana_zone

#: ``HH:MM`` on a 24-hour clock, local time in the person's zone.
LocalTime = Annotated[str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, 24-hour")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: Final[tuple[Weekday, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: What a category's name may hold (it appears in URLs: ``/v1/categories/{name}``).
CATEGORY_NAME: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
CategoryName = Annotated[str, Meta(min_length=1, max_length=MAX_CHANNEL, pattern=r"^[A-Za-z0-9_.:-]+$")]
#: What a category (or a channel) does with a push: push it, collect it into the digest, or drop it.
CategoryMode = Literal["push", "digest", "off"]
MAX_QUIET_WINDOWS: Final = 14
MAX_CAPS: Final = 16
MAX_CATEGORY_CHOICES: Final = 64


class Reason(enum.StrEnum):
    """Why the gate held or skipped a push (``deliveries.reason``)."""

    QUIET_HOURS = "quiet_hours"  # held until quiet hours end, or (feed only) skipped
    FREQUENCY_CAP = "frequency_cap"  # over a cap: held for the next digest
    DIGEST = "digest"  # the category is collected into the digest
    CATEGORY_OFF = "category_off"  # the person opted out of the category
    BELOW_MIN_LEVEL = "below_min_level"  # an app user's minimum level
    CHANNEL_OFF = "channel_off"  # an app user's channel list
    SUMMARIZED = "summarized"  # released inside another delivery's summary


class QuietHours(Struct, forbid_unknown_fields=True):
    """A quiet window starting ``start`` on each of ``days`` and ending at ``end`` (the next day when
    ``end`` is not after ``start``: 22:00-07:00 runs overnight)."""

    start: LocalTime
    end: LocalTime
    days: Annotated[list[Weekday], Meta(min_length=1, max_length=7)] = msgspec.field(
        default_factory=lambda: list(WEEKDAYS)
    )


class Cap(Struct, forbid_unknown_fields=True):
    """At most ``max`` pushes per rolling ``per`` (hour or day); only ``category``'s when given (a log
    event's category is its channel)."""

    max: Annotated[int, Meta(ge=1, le=10_000)]
    per: Literal["hour", "day"]
    category: CategoryName | None = None


class DigestSchedule(Struct, forbid_unknown_fields=True):
    """When collected pushes go out as one summary: at the top of every hour, or daily at ``at``."""

    every: Literal["hour", "day"] = "hour"
    at: LocalTime = "09:00"


class PreferenceDocument(Struct, forbid_unknown_fields=True):
    """What a person chose. Every field has the default a new device or user gets."""

    timezone: (
        Annotated[str, Meta(max_length=64, description="IANA zone; default: the device's, else UTC")] | None
    ) = None
    min_level: Literal["debug", "info", "warning", "error", "critical"] | None = None
    channels: list[Annotated[str, Meta(min_length=1, max_length=MAX_CHANNEL)]] | None = None
    categories: Annotated[dict[CategoryName, CategoryMode], Meta(max_length=MAX_CATEGORY_CHOICES)] = {}
    quiet_hours: Annotated[list[QuietHours], Meta(max_length=MAX_QUIET_WINDOWS)] = []
    quiet_mode: Annotated[
        Literal["hold", "feed"],
        Meta(description="hold: delivered when quiet hours end (one summary); feed: feed only"),
    ] = "hold"
    caps: Annotated[list[Cap], Meta(max_length=MAX_CAPS)] = []
    digest: DigestSchedule = msgspec.field(default_factory=DigestSchedule)
    critical_bypass: Annotated[bool, Meta(description="CRITICAL ignores quiet hours and caps")] = True
    digest_info: Annotated[
        bool, Meta(description="team devices: INFO events (feed only) are collected into the digest")
    ] = False


DEFAULT_DOCUMENT: Final = PreferenceDocument()


class Category(Struct, forbid_unknown_fields=True):
    """A category the app defines, with what it does for people who did not choose."""

    default: CategoryMode = "push"
    description: Annotated[str, Meta(max_length=200)] | None = None


def check_timezone(name: str) -> str | None:
    """``None`` if ``name`` is an IANA zone (the hub's one check, ``hub/_timezones.py``), else why not."""
    return None if is_iana_zone(name) else f"unknown time zone {name!r}: use an IANA name like Europe/Paris"


def zone(name: str | None) -> _dt.tzinfo:
    """The zone called ``name``; UTC when absent or unknown (a zone removed from tzdata since)."""
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return _dt.UTC
