"""IANA time zone names: the one check of a ``timezone`` the hub stores (devices, and whatever
schedules in a recipient's local time)."""

from __future__ import annotations

import functools
import zoneinfo


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_iana_zone(name: str) -> bool:
    """Whether ``name`` is a zone of the IANA database this Python sees (``Europe/Paris``, ``UTC``);
    paths, ``localtime`` and unknown names are not."""
    return name in _zones()
