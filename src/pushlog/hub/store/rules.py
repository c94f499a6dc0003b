"""Rules in the store: declarations, state with its history, and threshold windows.

What a rule does is :mod:`pushlog.hub.rules`; this module keeps its rows. Every state change goes
through :func:`move`, a conditional UPDATE (``WHERE id = … AND state = <expected>``): with several hub
processes the database lets exactly one of them make a given change, and only that one records the
change in ``rule_history`` and raises or resolves the rule's alert. Every function takes the caller's
connection (its transaction) and the time as ``now``.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from .._clock import format_time
from ._prepared import Prepared
from ._tables import device_groups, devices, escalations, events, rule_history, rule_matches, rules

#: The state a new rule starts in, by kind.
INITIAL_STATE: Final = {"expect": "waiting", "threshold": "ok", "resolve": "active", "escalate": "active"}
#: History rows a rule's read shows.
HISTORY_LIMIT: Final = 50


@dataclass(frozen=True, slots=True)
class Declared:
    """What :func:`declare` did: the rule row now, and whether anything changed."""

    row: Any
    changed: bool


def get_rule(conn: sa.Connection, name: str) -> Any:
    return conn.execute(sa.select(rules).where(rules.c.name == name)).first()


def list_rules(conn: sa.Connection) -> list[Any]:
    return list(conn.execute(sa.select(rules).order_by(rules.c.name)).all())


#: :func:`generation`'s read, compiled once per connection (it runs in every ingest transaction).
_GENERATION: Final = Prepared(sa.select(sa.func.count(), sa.func.max(rules.c.updated_at)))


def generation(conn: sa.Connection) -> tuple[int, _dt.datetime | None]:
    """Changes whenever a rule is declared, changed or removed (state changes leave it alone): what
    the rules engine's cache of compiled rules is checked against, once per ingest transaction."""
    [row] = _GENERATION.rows(conn)
    return int(row[0]), row[1]


def declare(
    conn: sa.Connection,
    *,
    name: str,
    kind: str,
    spec: dict[str, Any],
    source: str,
    key_id: str | None,
    now: _dt.datetime,
    due_at: _dt.datetime | None,
    change: str = "changed",
) -> Declared:
    """Create the rule ``name`` or change it; the same declaration again changes nothing (so
    ``pushlog.expect`` at every start and the rules file at every hub start are idempotent).
    A changed kind starts the rule afresh; a changed expectation keeps when it was last seen.
    ``change`` names a change in the history (``changed``, ``paused``, ``resumed``)."""
    row = get_rule(conn, name)
    if row is None:
        state = INITIAL_STATE[kind]
        rule_id = f"rl_{secrets.token_hex(10)}"
        conn.execute(
            rules.insert().values(
                id=rule_id,
                name=name,
                kind=kind,
                spec=spec,
                source=source,
                key_id=key_id,
                state=state,
                state_since=now,
                due_at=due_at,
                created_at=now,
                updated_at=now,
            )
        )
        _history(conn, rule_id, now=now, previous=None, state=state, detail=f"declared ({source})")
        return Declared(get_rule(conn, name), True)
    if row.kind == kind and row.spec == spec and row.source == source:
        return Declared(row, False)
    values: dict[str, Any] = {
        "kind": kind,
        "spec": spec,
        "source": source,
        "key_id": key_id,
        "updated_at": now,
    }
    if row.kind != kind:
        values.update(state=INITIAL_STATE[kind], state_since=now, due_at=due_at, last_match_at=None)
    elif kind == "expect":
        values["due_at"] = due_at
    conn.execute(rules.update().where(rules.c.id == row.id).values(**values))
    state = values.get("state", row.state)
    _history(conn, row.id, now=now, previous=row.state, state=state, detail=f"{change} ({source})")
    return Declared(get_rule(conn, name), True)


def delete_rule(conn: sa.Connection, name: str) -> bool:
    row = get_rule(conn, name)
    if row is None:
        return False
    conn.execute(rule_matches.delete().where(rule_matches.c.rule_id == row.id))
    conn.execute(rule_history.delete().where(rule_history.c.rule_id == row.id))
    conn.execute(rules.delete().where(rules.c.id == row.id))
    return True


def delete_file_rules_except(conn: sa.Connection, names: set[str]) -> list[str]:
    """Remove rules the rules file declared earlier and declares no more; their names."""
    gone = [
        row.name
        for row in conn.execute(sa.select(rules.c.name).where(rules.c.source == "file"))
        if row.name not in names
    ]
    for name in gone:
        delete_rule(conn, name)
    return gone


def move(
    conn: sa.Connection,
    rule_id: str,
    *,
    expected: str | tuple[str, ...],
    state: str,
    now: _dt.datetime,
    event_id: str | None = None,
    detail: str | None = None,
    where: tuple[sa.ColumnElement[bool], ...] = (),
    **values: Any,
) -> bool:
    """Move a rule from ``expected`` to ``state`` (and set ``values``) if it is still there; record
    the change. False: another process (or an earlier event) moved it first."""
    for previous in (expected,) if isinstance(expected, str) else expected:
        done = conn.execute(
            rules.update()
            .where(rules.c.id == rule_id, rules.c.state == previous, *where)
            .values(state=state, state_since=now, **values)
        ).rowcount
        if done:
            _history(conn, rule_id, now=now, previous=previous, state=state, event_id=event_id, detail=detail)
            return True
    return False


def set_values(conn: sa.Connection, rule_id: str, **values: Any) -> None:
    """Change a rule's bookkeeping columns (not its state). Also takes the row's lock on PostgreSQL,
    so concurrent ingests evaluate one rule one after the other."""
    conn.execute(rules.update().where(rules.c.id == rule_id).values(**values))


def note(
    conn: sa.Connection, rule_id: str, *, now: _dt.datetime, what: str, event_id: str | None, detail: str
) -> None:
    """Record something a rule did that is not a change of its state (an escalation step)."""
    state = conn.execute(sa.select(rules.c.state).where(rules.c.id == rule_id)).scalar()
    _history(conn, rule_id, now=now, previous=state, state=what, event_id=event_id, detail=detail)


def _history(
    conn: sa.Connection,
    rule_id: str,
    *,
    now: _dt.datetime,
    previous: str | None,
    state: str,
    event_id: str | None = None,
    detail: str | None = None,
) -> None:
    conn.execute(
        rule_history.insert().values(
            rule_id=rule_id, at=now, previous=previous, state=state, event_id=event_id, detail=detail
        )
    )


def history(conn: sa.Connection, rule_id: str, *, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(rule_history)
        .where(rule_history.c.rule_id == rule_id)
        .order_by(rule_history.c.id.desc())
        .limit(limit)
    )
    return [
        {
            "at": format_time(row.at),
            "previous": row.previous,
            "state": row.state,
            "event_id": row.event_id,
            "detail": row.detail,
        }
        for row in rows
    ]


# ----------------------------------------------------------------------------------- thresholds


def add_matches(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Record matching events (``rule_id``, ``event_seq``, ``at``, ``count``) in their rules' windows."""
    if rows:
        conn.execute(rule_matches.insert(), rows)


def window_total(conn: sa.Connection, rule_id: str, *, since: _dt.datetime) -> int:
    """Occurrences a rule matched after ``since``."""
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(rule_matches.c.count), 0)).where(
            rule_matches.c.rule_id == rule_id, rule_matches.c.at > since
        )
    ).scalar_one()
    return int(total)


def window_event_ids(conn: sa.Connection, rule_id: str, *, since: _dt.datetime, limit: int) -> list[str]:
    """Ids of the feed lines matched after ``since``, oldest first (the threshold alert links them)."""
    rows = conn.execute(
        sa.select(events.c.id)
        .join(rule_matches, rule_matches.c.event_seq == events.c.seq)
        .where(rule_matches.c.rule_id == rule_id, rule_matches.c.at > since)
        .group_by(events.c.id, events.c.seq)
        .order_by(events.c.seq)
        .limit(limit)
    )
    return [row.id for row in rows]


def prune_matches(conn: sa.Connection, rule_id: str, *, before: _dt.datetime) -> None:
    conn.execute(rule_matches.delete().where(rule_matches.c.rule_id == rule_id, rule_matches.c.at <= before))


# ---------------------------------------------------------------------------- escalation


def set_group(conn: sa.Connection, name: str, device_ids: list[str]) -> None:
    """Make the device group ``name`` exactly ``device_ids`` (empty: remove the group)."""
    conn.execute(device_groups.delete().where(device_groups.c.name == name))
    if device_ids:
        conn.execute(
            device_groups.insert(), [{"name": name, "device_id": d} for d in dict.fromkeys(device_ids)]
        )


class GroupInUseError(Exception):
    """The device group is named by escalate rules' steps: removing it would leave them pushing to
    nothing. ``rules`` are those rules' names."""

    def __init__(self, group: str, rule_names: list[str]) -> None:
        self.group = group
        self.rules = rule_names
        named = ", ".join(repr(n) for n in rule_names)
        which = "rule" if len(rule_names) == 1 else "rules"
        super().__init__(
            f"device group {group!r} is used by escalate {which} {named}: "
            "change or remove those rules' steps first"
        )


def rules_using_group(conn: sa.Connection, name: str) -> list[str]:
    """The names of the escalate rules with a step pushing to group ``name`` (paused ones too)."""
    rows = conn.execute(
        sa.select(rules.c.name, rules.c.spec).where(rules.c.kind == "escalate").order_by(rules.c.name)
    )
    return [row.name for row in rows if any(step.get("group") == name for step in row.spec.get("steps", ()))]


def remove_group(conn: sa.Connection, name: str) -> bool:
    """Remove the device group ``name``; False if there is none. Raises :class:`GroupInUseError`
    while an escalate rule's step still names it."""
    if not groups(conn, name):
        return False
    using = rules_using_group(conn, name)
    if using:
        raise GroupInUseError(name, using)
    set_group(conn, name, [])
    return True


def groups(conn: sa.Connection, name: str | None = None) -> dict[str, list[str]]:
    """Each group's members as declared (device ids or names), by group name; ``name``: that one."""
    query = sa.select(device_groups).order_by(device_groups.c.name, device_groups.c.device_id)
    if name is not None:
        query = query.where(device_groups.c.name == name)
    found: dict[str, list[str]] = {}
    for row in conn.execute(query):
        found.setdefault(row.name, []).append(row.device_id)
    return found


def team_devices_named(conn: sa.Connection, members: list[str]) -> dict[str, list[tuple[str, str | None]]]:
    """For each member (a device id or name), the team devices it names now: ``(id, name)`` pairs."""
    if not members:
        return {}
    rows = conn.execute(
        sa.select(devices.c.id, devices.c.name)
        .where(
            sa.or_(devices.c.id.in_(members), devices.c.name.in_(members)),
            devices.c.user_id.is_(None),
        )
        .order_by(devices.c.created_at, devices.c.id)
    ).all()
    return {m: [(row.id, row.name) for row in rows if m in (row.id, row.name)] for m in members}


def group_devices(conn: sa.Connection, name: str) -> list[str]:
    """The ids of the devices in group ``name``; members are device ids or device names (so a rules
    file can name phones before they are registered). Team devices only: an app user's device never
    gets log events."""
    named = team_devices_named(conn, groups(conn, name).get(name, []))
    return list(dict.fromkeys(device_id for found in named.values() for device_id, _ in found))


def follow(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Start following CRITICALs (``rule_id``, ``event_seq``, ``event_id``, ``step`` 0, ``next_at``)."""
    if rows:
        conn.execute(escalations.insert(), rows)


def due_escalations(conn: sa.Connection, rule_id: str, *, now: _dt.datetime) -> list[Any]:
    """The rule's followed events whose next step is due, with their acknowledgement and resolution."""
    return list(
        conn.execute(
            sa.select(
                escalations,
                events.c.level,
                events.c.channel,
                events.c.acknowledged_at,
                events.c.acknowledged_by,
                events.c.resolved_at,
            )
            .join(events, events.c.seq == escalations.c.event_seq)
            .where(escalations.c.rule_id == rule_id, escalations.c.next_at <= now)
            .order_by(escalations.c.next_at)
        ).all()
    )


def advance_escalation(conn: sa.Connection, row: Any, *, next_at: _dt.datetime | None) -> bool:
    """Take step ``row.step`` (conditional: one process wins); ``next_at`` None ends the chain."""
    where = (
        escalations.c.rule_id == row.rule_id,
        escalations.c.event_seq == row.event_seq,
        escalations.c.step == row.step,
    )
    if next_at is None:
        return bool(conn.execute(escalations.delete().where(*where)).rowcount)
    return bool(
        conn.execute(escalations.update().where(*where).values(step=row.step + 1, next_at=next_at)).rowcount
    )
