"""The rules engine: evaluates rules as events are ingested and when time passes.

* On ingest (:meth:`RulesEngine.ingest_job`, wrapped around the publish path's job, inside its
  transaction): the compiled rules are checked against the stored generation (one small query per
  transaction) and recompiled only when a rule was declared, changed or removed. Threshold rules take
  the push off their matching events before they are stored (below the threshold they stay in the
  feed only); after the insert, each newly stored event is offered to the rules of its channel and
  to those without one (a dict lookup and a few comparisons per rule): an expectation moves its
  deadline, a threshold counts the occurrences in its window and, crossing it, raises one alert.
* When time passes (:meth:`RulesEngine.run_due`, idempotent, safe to call from several processes):
  expectations past their deadline are missed (one alert), threshold windows that went quiet re-arm
  and resolve their alert, ``resolve`` rules resolve the alerts they match after their quiet time.

State changes are conditional UPDATEs (:func:`pushlog.hub.store.rules.move`); the rule's own alerts
are ordinary events stored through ``insert_events`` (streamed, pushed, acknowledged like any other)
with the fingerprint ``rule:<name>``, and resolved through :mod:`pushlog.hub.store.alerts`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from ..._duration import format_seconds, format_span
from ..._levels import POLICIES, level_from_number
from .._clock import format_time
from ..store import alerts, outbox
from ..store import rules as rule_store
from ..store._tables import UTCDateTime, as_utc, events, rules
from ..store.events import NO_REPEAT, IngestResult, NewEvent, Repeat, insert_events
from ._match import Matcher, fold
from ._spec import RuleSpec

#: The channel of a rule's alert when its match names none.
ALERT_CHANNEL: Final = "rules"
#: Matching events a threshold alert links (metadata ``linked``).
MAX_LINKED: Final = 20  # ids as JSON stay within a metadata value's 1024 characters

Job = Callable[[sa.Connection], IngestResult]


def _repeats(level: int) -> bool:
    """Whether pushes of ``level`` repeat until acknowledged (CRITICAL, per the levels table): the
    alerts a rule raises re-push, and escalate rules follow them."""
    return POLICIES[level_from_number(int(level))].repeat_until_acknowledged


def alert_fingerprint(name: str) -> str:
    return f"rule:{name}"


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    name: str
    kind: str
    spec: RuleSpec
    matcher: Matcher
    created_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class Compiled:
    """The rules of one generation, indexed for the ingest path."""

    rules: tuple[CompiledRule, ...] = ()
    by_channel: dict[str | None, tuple[CompiledRule, ...]] = dataclasses.field(default_factory=dict)
    any_channel: tuple[CompiledRule, ...] = ()
    thresholds: bool = False

    @classmethod
    def build(cls, found: Sequence[CompiledRule]) -> Compiled:
        """Index ``found``; paused rules are left out (neither ingest nor ``run_due`` sees them)."""
        found = [rule for rule in found if not rule.spec.paused]
        live = [rule for rule in found if rule.kind in ("expect", "threshold", "escalate")]
        by_channel: dict[str | None, list[CompiledRule]] = {}
        for rule in live:
            if rule.matcher.channel is not None:
                by_channel.setdefault(rule.matcher.channel, []).append(rule)
        return cls(
            rules=tuple(found),
            by_channel={channel: tuple(group) for channel, group in by_channel.items()},
            any_channel=tuple(rule for rule in live if rule.matcher.channel is None),
            thresholds=any(rule.kind == "threshold" for rule in live),
        )

    @property
    def live(self) -> bool:
        return bool(self.by_channel or self.any_channel)

    def matching(self, event: NewEvent) -> list[CompiledRule]:
        """The live rules ``event`` matches (those of its channel and those without one)."""
        own = self.by_channel.get(event.channel, ()) if event.channel is not None else ()
        if not own and not self.any_channel:
            return []
        folded = fold(event)
        found = [rule for rule in self.any_channel if rule.matcher.matches(event, folded)]
        found.extend(rule for rule in own if rule.matcher.matches(event, folded))
        return found

    def match_batch(self, batch: Sequence[NewEvent]) -> dict[str, list[CompiledRule]]:
        """The rules each event of ``batch`` matches, by event id (events matching none left out)."""
        found: dict[str, list[CompiledRule]] = {}
        for item in batch:
            rules = self.matching(item)
            if rules:
                found[item.id] = rules
        return found

    def screen(self, batch: Sequence[NewEvent], hits: dict[str, list[CompiledRule]]) -> Sequence[NewEvent]:
        """``batch`` with pushes taken off events a threshold rule counts (they reach the feed only;
        the threshold's own alert is the push)."""
        changed = None
        for index, item in enumerate(batch):
            if item.push and any(rule.kind == "threshold" for rule in hits.get(item.id, ())):
                if changed is None:
                    changed = list(batch)
                changed[index] = dataclasses.replace(item, push=False, repeats=False)
        return batch if changed is None else changed


@dataclass(frozen=True, slots=True)
class Due:
    """What one :meth:`RulesEngine.run_due` did."""

    changed: int = 0  # rules that changed state or alerts resolved
    deliveries: int = 0


#: An expectation seen while ``ok``: its deadline moves (executemany over the rules seen in a batch).
_SEEN_OK: Final = (
    rules.update()
    .where(rules.c.id == sa.bindparam("b_id"), rules.c.state == "ok")
    .values(
        last_match_at=sa.bindparam("b_now", type_=UTCDateTime()),
        due_at=sa.bindparam("b_due", type_=UTCDateTime()),
    )
)


#: Days a threshold's ``rate`` compares with (the same window on each of them).
BASELINE_DAYS: Final = 7


def _usual_note(rate: float | None, usual: float) -> str:
    return "" if rate is None else f", {rate:g}x the usual {usual:g}"


def compile_row(row: Any) -> CompiledRule:
    spec = RuleSpec.from_json(row.kind, row.spec)
    return CompiledRule(row.id, row.name, row.kind, spec, Matcher.compile(spec.match), row.created_at)


class RulesEngine:
    """One per hub process. ``repeat`` is the CRITICAL re-push schedule for the rules' own alerts."""

    def __init__(self, *, repeat: Repeat = NO_REPEAT) -> None:
        self._repeat = repeat
        #: (generation, compiled rules), replaced as one value: ingest and the periodic pass run in
        #: different threads, and a generation must never be paired with another's rules.
        self._cache: tuple[tuple[int, Any] | None, Compiled] = (None, Compiled())

    def invalidate(self) -> None:
        """A rule changed in this process: recompile on the next use."""
        self._cache = (None, self._cache[1])

    def current(self, conn: sa.Connection) -> Compiled:
        """The compiled rules, recompiled when the stored generation moved (another process too)."""
        generation = rule_store.generation(conn)
        known, compiled = self._cache
        if generation != known:
            compiled = Compiled.build([compile_row(row) for row in rule_store.list_rules(conn)])
            self._cache = (generation, compiled)
        return compiled

    # ---- ingest --------------------------------------------------------------------------------
    def ingest_job(
        self, batch: Sequence[NewEvent], *, now: _dt.datetime, then: Callable[[Sequence[NewEvent]], Job]
    ) -> Job:
        """The ingest job for ``batch``: ``then(batch)`` (the store's job) with the rules around it."""

        def job(conn: sa.Connection) -> IngestResult:
            compiled = self.current(conn)
            if not compiled.live:
                return then(batch)(conn)
            hits = compiled.match_batch(batch)  # once per event, before and after the insert
            screened = compiled.screen(batch, hits) if compiled.thresholds and hits else batch
            result = then(screened)(conn)
            if hits and result.stored:
                more = self.evaluate(conn, hits, result.stored, now=now)
                if more:
                    result = dataclasses.replace(result, deliveries=result.deliveries + more)
            return result

        return job

    def evaluate(
        self,
        conn: sa.Connection,
        hits: dict[str, list[CompiledRule]],
        stored: Sequence[tuple[int, NewEvent]],
        *,
        now: _dt.datetime,
    ) -> int:
        """Offer newly stored events (duplicates are not in ``stored``) to the rules they matched;
        returns deliveries the rules' alerts created."""
        by_rule: dict[str, tuple[CompiledRule, list[tuple[int, NewEvent]]]] = {}
        for seq, item in stored:
            for rule in hits.get(item.id, ()):
                by_rule.setdefault(rule.id, (rule, []))[1].append((seq, item))
        if not by_rule:
            return 0
        # an expectation's state change is recorded with the batch's first event it matched
        seen = [(rule, matched[0][1].id) for rule, matched in by_rule.values() if rule.kind == "expect"]
        deliveries = self._seen_all(conn, seen, now=now) if seen else 0
        for rule, matched in by_rule.values():
            if rule.kind == "threshold":
                deliveries += self._count(conn, rule, matched, now=now)
            elif rule.kind == "escalate":
                self._follow(conn, rule, matched, now=now)
        return deliveries

    def _follow(
        self,
        conn: sa.Connection,
        rule: CompiledRule,
        matched: list[tuple[int, NewEvent]],
        *,
        now: _dt.datetime,
    ) -> None:
        """Pushed CRITICALs the rule matched: their first step is due ``after`` from now."""
        steps = rule.spec.steps or []
        first = now + _dt.timedelta(seconds=steps[0]["after_s"])
        rule_store.follow(
            conn,
            [
                {"rule_id": rule.id, "event_seq": seq, "event_id": item.id, "step": 0, "next_at": first}
                for seq, item in matched
                if item.push and item.repeat_of is None and _repeats(item.level)
            ],
        )

    def _seen_all(
        self, conn: sa.Connection, seen: list[tuple[CompiledRule, str]], *, now: _dt.datetime
    ) -> int:
        """Expectations seen (each with the id of the event that matched): one statement moves the
        deadlines of those that were ``ok`` (the usual case); the others (first seen, or back after a
        miss) change state one by one, recorded with that event."""
        moved = conn.execute(
            _SEEN_OK,
            [{"b_id": rule.id, "b_now": now, "b_due": self._due(rule, now)} for rule, _ in seen],
        ).rowcount
        if moved == len(seen):
            return 0
        ok = set(
            conn.execute(
                sa.select(rules.c.id).where(rules.c.id.in_([r.id for r, _ in seen]), rules.c.state == "ok")
            ).scalars()
        )
        return sum(self._seen(conn, rule, event_id, now=now) for rule, event_id in seen if rule.id not in ok)

    @staticmethod
    def _due(rule: CompiledRule, now: _dt.datetime) -> _dt.datetime:
        return now + _dt.timedelta(seconds=(rule.spec.every_s or 0) + (rule.spec.grace_s or 0))

    def _seen(self, conn: sa.Connection, rule: CompiledRule, event_id: str, *, now: _dt.datetime) -> int:
        rule_store.set_values(conn, rule.id, last_match_at=now, due_at=self._due(rule, now))  # row lock
        row = conn.execute(
            sa.select(rules.c.state, rules.c.alert_event_id).where(rules.c.id == rule.id)
        ).first()
        if row is None or row.state == "ok":
            return 0
        if row.state == "waiting":
            rule_store.move(
                conn, rule.id, expected="waiting", state="ok", now=now, event_id=event_id, detail="first seen"
            )
            return 0
        if not rule_store.move(
            conn,
            rule.id,
            expected="missed",
            state="ok",
            now=now,
            event_id=event_id,
            detail="seen again",
            alert_event_id=None,
        ):
            return 0
        if row.alert_event_id is None:
            return 0
        return alerts.resolve_event(conn, row.alert_event_id, by=f"rule:{rule.name}", now=now)

    def _count(
        self,
        conn: sa.Connection,
        rule: CompiledRule,
        matched: list[tuple[int, NewEvent]],
        *,
        now: _dt.datetime,
    ) -> int:
        spec = rule.spec
        assert spec.within_s is not None and spec.count is not None
        rule_store.set_values(conn, rule.id, last_match_at=now)  # the row's lock: one count at a time
        rule_store.add_matches(
            conn,
            [{"rule_id": rule.id, "event_seq": seq, "at": now, "count": item.count} for seq, item in matched],
        )
        since = now - _dt.timedelta(seconds=spec.within_s)
        total = rule_store.window_total(conn, rule.id, since=since)
        if total < spec.count:
            return 0
        state = conn.execute(sa.select(rules.c.state).where(rules.c.id == rule.id)).scalar()
        if state != "ok":
            return 0
        usual = self._usual(conn, rule, now=now) if spec.rate is not None else 0.0
        if spec.rate is not None and total < spec.rate * usual:
            return 0
        linked = rule_store.window_event_ids(conn, rule.id, since=since, limit=MAX_LINKED)
        label = spec.title or spec.match.get("text") or rule.name
        alert = self._alert(
            rule,
            title=f"{label} \u00d7{total} in {format_span(spec.within_s)}",
            body=f"rule {rule.name!r}: {total} matching events within {format_seconds(spec.within_s)} "
            f"(threshold {spec.count}{_usual_note(spec.rate, usual)}); the first {len(linked)} are linked "
            "in metadata.linked",
            now=now,
            extra={"count": total, "linked": linked, **({"usual": usual} if spec.rate is not None else {})},
        )
        if not rule_store.move(
            conn,
            rule.id,
            expected="ok",
            state="firing",
            now=now,
            event_id=alert.id,
            detail=f"{total} in {format_seconds(spec.within_s)}",
            alert_event_id=alert.id,
        ):
            return 0
        return self._raise(conn, alert, now=now)

    @staticmethod
    def _usual(conn: sa.Connection, rule: CompiledRule, *, now: _dt.datetime) -> float:
        """The usual count of a threshold's window at this time of day: the average, over the
        ``BASELINE_DAYS`` days before, of the occurrences (lines' counts) the hub received in the same
        window then."""
        within = _dt.timedelta(seconds=rule.spec.within_s or 0)
        day = _dt.timedelta(days=1)
        in_windows = sa.or_(
            *(
                sa.and_(events.c.received_at > now - n * day - within, events.c.received_at <= now - n * day)
                for n in range(1, BASELINE_DAYS + 1)
            )
        )
        total = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(events.c.count), 0)).where(
                events.c.merged_into.is_(None), in_windows, *rule.matcher.conditions()
            )
        ).scalar_one()
        return float(total) / BASELINE_DAYS

    def _alert(
        self, rule: CompiledRule, *, title: str, body: str, now: _dt.datetime, extra: dict[str, Any]
    ) -> NewEvent:
        level = rule.spec.alert_level
        return NewEvent(
            id=str(uuid.uuid4()),
            ts=now,
            level=level,
            title=title[:256],
            body=body,
            channel=rule.spec.match.get("channel") or ALERT_CHANNEL,
            tags=["rule"],
            metadata={"rule": rule.name, "kind": rule.kind, **extra},
            fingerprint=alert_fingerprint(rule.name),
            push=POLICIES[level].push,
            source={"logger": "pushlog.hub.rules"},
        )

    def _raise(self, conn: sa.Connection, alert: NewEvent, *, now: _dt.datetime) -> int:
        repeat = self._repeat if _repeats(alert.level) else NO_REPEAT
        return insert_events(conn, [alert], key_id=None, now=now, repeat=repeat).deliveries

    # ---- time ----------------------------------------------------------------------------------
    def run_due(self, conn: sa.Connection, *, now: _dt.datetime) -> Due:
        """Everything time decides at ``now``: missed expectations, re-armed thresholds, quiet alerts.
        Idempotent; with several processes each change is made by exactly one of them."""
        compiled = self.current(conn)
        changed = deliveries = 0
        for rule in compiled.rules:
            if rule.kind == "expect":
                done, made = self._check_missed(conn, rule, now=now)
            elif rule.kind == "threshold":
                done, made = self._rearm(conn, rule, now=now)
            elif rule.kind == "escalate":
                done, made = self._escalate(conn, rule, now=now)
            else:
                done, made = self._quiet(conn, rule, now=now)
            changed += done
            deliveries += made
        return Due(changed=changed, deliveries=deliveries)

    def _check_missed(self, conn: sa.Connection, rule: CompiledRule, *, now: _dt.datetime) -> tuple[int, int]:
        row = conn.execute(sa.select(rules).where(rules.c.id == rule.id)).first()
        if row is None or row.state not in ("waiting", "ok") or row.due_at is None or row.due_at > now:
            return 0, 0
        spec = rule.spec
        since = row.last_match_at or row.created_at
        label = spec.title or rule.name
        alert = self._alert(
            rule,
            title=f"{label}: not seen for {format_span((now - since).total_seconds())}",
            body=f"expected every {format_seconds(spec.every_s or 0)} (+{format_seconds(spec.grace_s or 0)} "
            f"grace); last seen: {format_time(row.last_match_at) or 'never'}",
            now=now,
            extra={"due_at": format_time(row.due_at), "last_seen_at": format_time(row.last_match_at)},
        )
        if not rule_store.move(
            conn,
            rule.id,
            expected=row.state,
            state="missed",
            now=now,
            event_id=alert.id,
            detail="not seen by " + (format_time(row.due_at) or ""),
            where=(rules.c.due_at <= now,),
            alert_event_id=alert.id,
        ):
            return 0, 0
        return 1, self._raise(conn, alert, now=now)

    def _rearm(self, conn: sa.Connection, rule: CompiledRule, *, now: _dt.datetime) -> tuple[int, int]:
        spec = rule.spec
        assert spec.within_s is not None and spec.count is not None
        since = now - _dt.timedelta(seconds=spec.within_s)
        rule_store.prune_matches(conn, rule.id, before=since)
        row = conn.execute(
            sa.select(rules.c.state, rules.c.alert_event_id).where(rules.c.id == rule.id)
        ).first()
        if row is None or row.state != "firing":
            return 0, 0
        if rule_store.window_total(conn, rule.id, since=since) >= spec.count:
            return 0, 0
        if not rule_store.move(
            conn,
            rule.id,
            expected="firing",
            state="ok",
            now=now,
            detail="below the threshold",
            alert_event_id=None,
        ):
            return 0, 0
        made = 0
        if row.alert_event_id is not None:
            made = alerts.resolve_event(conn, row.alert_event_id, by=f"rule:{rule.name}", now=now)
        return 1, made

    def _escalate(self, conn: sa.Connection, rule: CompiledRule, *, now: _dt.datetime) -> tuple[int, int]:
        """Due steps of followed CRITICALs: push to the step's group, or stop once acknowledged (or
        resolved). Each step is taken by one process (conditional UPDATE) and recorded."""
        steps = rule.spec.steps or []
        changed = made = 0
        for row in rule_store.due_escalations(conn, rule.id, now=now):
            if row.acknowledged_at is not None or row.resolved_at is not None:
                if rule_store.advance_escalation(conn, row, next_at=None):
                    why = f"acknowledged ({row.acknowledged_by})" if row.acknowledged_at else "resolved"
                    rule_store.note(conn, rule.id, now=now, what="stopped", event_id=row.event_id, detail=why)
                    changed += 1
                continue
            if row.step >= len(steps):  # the rule lost steps since: nothing more to do
                rule_store.advance_escalation(conn, row, next_at=None)
                continue
            step = steps[row.step]
            following = steps[row.step + 1] if row.step + 1 < len(steps) else None
            next_at = (
                now + _dt.timedelta(seconds=following["after_s"] - step["after_s"]) if following else None
            )
            if not rule_store.advance_escalation(conn, row, next_at=next_at):
                continue
            devices = rule_store.group_devices(conn, step["group"])
            push = outbox.Push(row.event_seq, row.event_id, int(row.level), row.channel)
            created = outbox.enqueue_next_round(conn, push, now=now, only=devices) if devices else 0
            rule_store.note(
                conn,
                rule.id,
                now=now,
                what="escalated",
                event_id=row.event_id,
                detail=f"step {row.step + 1}: group {step['group']} ({len(devices)} devices), "
                f"unacknowledged after {format_span(step['after_s'])}",
            )
            changed += 1
            made += created
        return changed, made

    def _quiet(self, conn: sa.Connection, rule: CompiledRule, *, now: _dt.datetime) -> tuple[int, int]:
        assert rule.spec.quiet_s is not None
        cutoff = now - _dt.timedelta(seconds=rule.spec.quiet_s)
        last = sa.func.coalesce(events.c.last_seen_at, events.c.received_at)
        rows = conn.execute(
            sa.select(
                events.c.seq,
                events.c.id,
                events.c.level,
                events.c.channel,
                events.c.fingerprint,
                last.label("last"),
            )
            .where(*alerts.open_alerts(), *rule.matcher.conditions(), events.c.received_at >= rule.created_at)
            .order_by(events.c.seq)
        ).all()
        lines: dict[str, list[Any]] = {}
        for row in rows:
            lines.setdefault(row.fingerprint, []).append(row)
        changed = made = 0
        for group in lines.values():
            if max(as_utc(row.last) for row in group) <= cutoff:
                created = alerts.resolve_lines(conn, group, by=f"quiet:{rule.name}", now=now)
                changed += 1
                made += created
        return changed, made


def declare(
    conn: sa.Connection,
    *,
    name: str,
    spec: RuleSpec,
    source: str,
    key_id: str | None,
    now: _dt.datetime,
) -> rule_store.Declared:
    """Store a declared rule (an expectation's deadline counts from its last match, else from now;
    from now too when it resumes after a pause, which is no reason to call it missed)."""
    due_at = None
    row = rule_store.get_rule(conn, name)
    was_paused = row is not None and bool(row.spec.get("paused"))
    if spec.kind == "expect":
        start = now
        if row is not None and row.kind == "expect" and not was_paused:
            start = row.last_match_at or row.created_at
        due_at = start + _dt.timedelta(seconds=(spec.every_s or 0) + (spec.grace_s or 0))
    return rule_store.declare(
        conn,
        name=name,
        kind=spec.kind,
        spec=spec.to_json(),
        source=source,
        key_id=key_id,
        now=now,
        due_at=due_at,
        change="changed" if was_paused == spec.paused else "paused" if spec.paused else "resumed",
    )
