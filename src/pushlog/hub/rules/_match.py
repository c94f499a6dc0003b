"""A rule's ``match`` compiled once: a cheap predicate over incoming events (the ingest path) and
the same conditions as SQL (rules that look back over stored alerts).

The predicate checks the cheapest conditions first (level, channel, fingerprint) and the text last;
text is compared case-insensitively in the title or body, as the feed's ``q`` filter does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..._levels import parse_level
from ..store._tables import events
from ..store.events import EventFilter, NewEvent, meta_text


def fold(event: NewEvent) -> tuple[str, str]:
    """The title and body as text conditions compare them."""
    return event.title.casefold(), event.body.casefold() if event.body else ""


@dataclass(frozen=True, slots=True)
class Matcher:
    min_level: int
    channel: str | None
    fingerprint: str | None
    tag: str | None
    meta: tuple[tuple[str, str], ...]
    text: str | None  # casefolded

    @classmethod
    def compile(cls, match: dict[str, Any]) -> Matcher:
        level = match.get("level")
        text = match.get("text")
        return cls(
            min_level=int(parse_level(level)) if level else 0,
            channel=match.get("channel"),
            fingerprint=match.get("fingerprint"),
            tag=match.get("tag"),
            meta=tuple(sorted((match.get("meta") or {}).items())),
            text=text.casefold() if text else None,
        )

    def __call__(self, event: NewEvent) -> bool:
        return self.matches(event, None)

    def matches(self, event: NewEvent, folded: tuple[str, str] | None) -> bool:
        """``folded``: the event's title and body casefolded, when the caller made them once for
        all rules (the ingest path); ``None`` makes them here."""
        if event.level < self.min_level:
            return False
        if self.channel is not None and event.channel != self.channel:
            return False
        if self.fingerprint is not None and event.fingerprint != self.fingerprint:
            return False
        if self.tag is not None and self.tag not in event.tags:
            return False
        for key, value in self.meta:
            if key not in event.metadata or meta_text(event.metadata[key]) != value:
                return False
        if self.text is not None:
            title, body = folded if folded is not None else fold(event)
            return self.text in title or self.text in body
        return True

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        """The same conditions over the ``events`` table."""
        flt = EventFilter(
            min_level=None,
            channels=(self.channel,) if self.channel is not None else (),
            tags=(self.tag,) if self.tag is not None else (),
            meta=self.meta,
            text=self.text,
        )
        where = flt.conditions()
        if self.min_level:
            where.append(events.c.level >= self.min_level)
        if self.fingerprint is not None:
            where.append(events.c.fingerprint == self.fingerprint)
        return where
