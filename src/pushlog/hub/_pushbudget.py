"""The push budget per publish key: how many events one key may push, and how many CRITICAL re-push
series it may keep running, so that a leaked key (or a runaway app) cannot flood every phone.

Two limits, applied at ingest in the same transaction as the insert (:meth:`PushBudget.ingest_job`):

- ``push_budget_per_minute``: a token bucket per key (that many, refilling over a minute). A new
  pushed event past it is stored as usual but with ``push`` false: it is in the feed, not on phones.
- ``max_critical_series``: once a key has that many CRITICAL events still re-pushing (not
  acknowledged, not expired), its further CRITICAL events are pushed once, without a re-push series.

Overflow is never silent: the first overflow of a key in a minute adds one summary event from the
hub itself ("Push budget exceeded ...", level of the highest overflowing event, pushed without
re-pushes), and later overflows of that minute are folded into its count as dedup follow-ups. So
every device gets at most one summary push per key and minute, and the feed line's count says how
many events were held back. Only batches with pushed events do any of this work.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import uuid
from collections.abc import Callable, Sequence
from typing import Final

import sqlalchemy as sa

from .._levels import POLICIES
from ._clock import Clock
from ._ratelimit import RateLimiter
from .store import events as event_store
from .store._prepared import Prepared
from .store._tables import events

WINDOW: Final = 60  # seconds: the budget's period and the summary's


#: The key's CRITICAL re-push series still running, and whether the minute's summary is stored: read in
#: the ingest transaction once a batch goes over budget (compiled once per connection).
_RUNNING_SERIES: Final = Prepared(
    sa.select(sa.func.count()).where(
        events.c.key_id == sa.bindparam("b_key"),
        events.c.repeat_next_at.is_not(None),
        events.c.acknowledged_at.is_(None),
    )
)
_SUMMARY: Final = Prepared(sa.select(events.c.id).where(events.c.id == sa.bindparam("b_id")))


class PushBudget:
    def __init__(self, *, per_minute: int, max_series: int, clock: Clock) -> None:
        self.per_minute = per_minute
        self.max_series = max_series
        self._buckets = RateLimiter(rate=per_minute / WINDOW, burst=per_minute, clock=clock)

    def ingest_job(
        self,
        *,
        batch: Sequence[event_store.NewEvent],
        key_id: str,
        key_name: str,
        now: _dt.datetime,
        repeat: event_store.Repeat,
        lease: _dt.timedelta | None = None,
    ) -> Callable[[sa.Connection], event_store.IngestResult]:
        """The ingest job (for ``HubState.ingest``): ``batch`` within the key's budget, then stored
        (``lease``: its first pushes claimed for this process, ``event_store.insert_events``)."""

        def job(conn: sa.Connection) -> event_store.IngestResult:
            # one read of the batch's ids, under the ingest lock, serves the budget and the store
            seen = event_store.lookup(conn, [item.id for item in batch])
            budgeted = self.apply(conn, batch, key_id=key_id, key_name=key_name, now=now, seen=seen)
            return event_store.insert_events(
                conn, budgeted, key_id=key_id, now=now, repeat=repeat, lease=lease, seen=seen
            )

        return job

    def apply(
        self,
        conn: sa.Connection,
        batch: Sequence[event_store.NewEvent],
        *,
        key_id: str,
        key_name: str,
        now: _dt.datetime,
        seen: event_store.Stored,
    ) -> Sequence[event_store.NewEvent]:
        """``batch`` with over-budget pushes held back, plus the summary (or its follow-up) if any were;
        ``seen`` is this transaction's ``event_store.lookup`` of the batch's ids."""
        if not any(item.push and item.repeat_of is None for item in batch):
            return batch
        known = set(seen.found)
        series = None
        held: list[event_store.NewEvent] = []
        single: list[event_store.NewEvent] = []
        changed: dict[int, event_store.NewEvent] = {}
        for index, item in enumerate(batch):
            if not item.push or item.repeat_of is not None or item.id in known:
                continue
            known.add(item.id)  # a repeated id in the batch is a duplicate: counted once
            if self._buckets.take(key_id) > 0:
                changed[index] = dataclasses.replace(item, push=False, repeats=False)
                held.append(item)
            elif POLICIES[item.level].repeat_until_acknowledged:
                if series is None:
                    series = self._running_series(conn, key_id)
                if series >= self.max_series:
                    changed[index] = dataclasses.replace(item, repeats=False)
                    single.append(item)
                else:
                    series += 1
        if not changed:
            return batch
        result = [changed.get(index, item) for index, item in enumerate(batch)]
        result.append(self._summary(conn, held, single, key_id=key_id, key_name=key_name, now=now))
        return result

    def _running_series(self, conn: sa.Connection, key_id: str) -> int:
        [[running]] = _RUNNING_SERIES.rows(conn, {"b_key": key_id})
        return int(running)

    def _summary(
        self,
        conn: sa.Connection,
        held: Sequence[event_store.NewEvent],
        single: Sequence[event_store.NewEvent],
        *,
        key_id: str,
        key_name: str,
        now: _dt.datetime,
    ) -> event_store.NewEvent:
        window = int(now.timestamp()) // WINDOW
        summary_id = f"push-budget-{key_id}-{window}"
        count = len(held) + len(single)
        level = max(item.level for item in [*held, *single])
        exists = _SUMMARY.first(conn, {"b_id": summary_id}) is not None
        if exists:  # the minute's summary was pushed already: its line just counts on
            return event_store.NewEvent(
                id=str(uuid.uuid4()),
                ts=now,
                level=level,
                title=_TITLE.format(name=key_name),
                count=count,
                push=False,
                repeat_of=summary_id,
                fingerprint=f"push-budget:{key_id}",
                source={"hub": "push budget"},
            )
        until = _dt.datetime.fromtimestamp((window + 1) * WINDOW, _dt.UTC)
        parts = []
        if held:
            parts.append(
                f"{len(held)} event(s) went over its budget of {self.per_minute} pushes a minute: "
                "they are in the feed but were not pushed"
            )
        if single:
            parts.append(
                f"{len(single)} CRITICAL event(s) were pushed once without re-pushes: it already has "
                f"{self.max_series} re-push series running"
            )
        body = (
            f"Key '{key_name}' ({key_id}): " + "; ".join(parts) + ". Until "
            f"{until.strftime('%H:%M:%S')} UTC further overflow only adds to this line's count. "
            "Limits: docs/hub.md."
        )
        return event_store.NewEvent(
            id=summary_id,
            ts=now,
            level=level,
            title=_TITLE.format(name=key_name),
            body=body,
            count=count,
            push=True,
            repeats=False,
            fingerprint=f"push-budget:{key_id}",
            source={"hub": "push budget"},
            metadata={"key_id": key_id, "not_pushed": len(held), "not_repeated": len(single)},
        )


_TITLE: Final = "Push budget exceeded by key '{name}'"
