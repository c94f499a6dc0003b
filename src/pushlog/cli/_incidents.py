"""Incidents in ``pushlog tail``: feed lines that belong together, shown as one (docs/rules.md).

The hub's feed list gives every line of an incident of two or more lines its ``incident`` (``{"by",
"key", "first", "last", "count", "lines"}``, ``hub/store/incidents.py``); lines arriving live on the
stream carry none, so tail keys them the same way here (the hub's rule: metadata ``trace_id``, else the
fingerprint) and joins them to what it already holds, as the web app does (``js/incidents.js``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from .._event import parse_ts

StoredEvent = dict[str, Any]

#: The metadata key whose value groups lines of one trace (the hub's ``store/incidents.TRACE_KEY``).
TRACE_KEY = "trace_id"


def incident_key(event: StoredEvent) -> str | None:
    """``trace_id:<id>``, else ``fingerprint:<fp>``, else ``None`` (a line that stands alone)."""
    trace = (event.get("metadata") or {}).get(TRACE_KEY)
    if isinstance(trace, str) and trace:
        return f"{TRACE_KEY}:{trace}"
    if event.get("fingerprint"):
        return f"fingerprint:{event['fingerprint']}"
    return None


@dataclass(frozen=True, slots=True)
class Incident:
    """First and last occurrence (RFC 3339 texts), occurrences and lines of one incident."""

    first: str
    last: str
    count: int
    lines: int

    @classmethod
    def of_line(cls, event: StoredEvent) -> Incident:
        """A line alone, or the hub's ``incident`` when it gave one."""
        given = event.get("incident")
        if isinstance(given, dict):
            try:
                return cls(str(given["first"]), str(given["last"]), int(given["count"]), int(given["lines"]))
            except (KeyError, TypeError, ValueError):
                pass
        ts = str(event.get("ts"))
        return cls(ts, str(event.get("last_seen_at") or ts), _count(event), 1)

    def join(self, event: StoredEvent) -> Incident:
        """With one more line (a live line the hub has not counted in it)."""
        ts = str(event.get("ts"))
        last = str(event.get("last_seen_at") or ts)
        return replace(
            self,
            first=ts if _moment(ts) < _moment(self.first) else self.first,
            last=last if _moment(last) > _moment(self.last) else self.last,
            count=self.count + _count(event),
            lines=self.lines + 1,
        )

    def label(self, when: Callable[[str], str]) -> str:
        """``incident: 3 lines, first 00:44, last 00:52``; ``when`` formats one time."""
        return f"incident: {self.lines} lines, first {when(self.first)}, last {when(self.last)}"


def incident_of(lines: Iterable[StoredEvent]) -> Incident | None:
    """The incident of the held ``lines`` of one key: the hub's (the largest it gave) joined with the
    lines it did not count (those without ``incident``: they arrived live)."""
    held = list(lines)
    counted = {id(line) for line in held if isinstance(line.get("incident"), dict)}
    base = max(
        (Incident.of_line(line) for line in held if id(line) in counted),
        key=lambda inc: inc.lines,
        default=None,
    )
    for line in held:
        if id(line) in counted:
            continue
        base = Incident.of_line(line) if base is None else base.join(line)
    return base


def _count(event: StoredEvent) -> int:
    try:
        return max(1, int(event.get("count") or 1))
    except (TypeError, ValueError):
        return 1


def _moment(text: str) -> _dt.datetime:
    try:
        return parse_ts(text)
    except (TypeError, ValueError):
        return _dt.datetime.min.replace(tzinfo=_dt.UTC)
