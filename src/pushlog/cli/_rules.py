"""``pushlog rules list|show|add|remove``: rules over the event stream (docs/rules.md).

Like ``pushlog keys``, this works on the hub's database (``--data-dir`` or ``--db``), hub running or
not: a running hub notices declared, changed and removed rules at its next ingest or rules pass.
``add`` declares like ``PUT /v1/rules/{name}`` with an admin key (the same declaration again changes
nothing); rules the hub's rules file declares are changed in the file, not here.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import textwrap
from typing import Any

from ._errors import CLIError
from ._keys import add_db_arguments, open_engine
from ._safe_text import visible

EPILOG = textwrap.dedent(
    """\
    examples:
      pushlog rules add "nightly backup finished" --kind expect --every 1d --grace 1h --channel backup
      pushlog rules add declines --kind threshold --text "payment declined" --min-level warning \\
          --count 20 --within 5m --level error
      pushlog rules add payments-quiet --kind resolve --channel payments --quiet 15m
      pushlog rules group oncall-2 bob-phone carol-phone
      pushlog rules add oncall --kind escalate --min-level critical --step 10m:oncall-2 --step 30m:managers
      pushlog rules list
      pushlog rules show declines          # state, and its history of state changes
      pushlog rules remove declines
    """
)


def rule_state_text(rule: dict[str, Any]) -> str:
    """A rule's state as a person reads it in a list: ``ok``, or ``ok, paused`` for a paused rule
    (kept with its state, not evaluated), as the web app's badges show it."""
    state = str(rule.get("state"))
    return f"{state}, paused" if rule.get("paused") else state


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="expectations, thresholds and quiet-time resolution (local data dir)",
        description="Manage the hub's rules over the event stream (works without a running hub).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="list rules with their state")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    add_db_arguments(listing)
    listing.set_defaults(func=_list)
    show = sub.add_parser("show", help="one rule with its state history")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="the rule as the API gives it")
    add_db_arguments(show)
    show.set_defaults(func=_show)
    add = sub.add_parser("add", help="declare a rule (or change it)")
    add.add_argument("name", help="the rule's name (an expectation's name is also its text by default)")
    add.add_argument("--kind", required=True, choices=("expect", "threshold", "resolve", "escalate"))
    match = add.add_argument_group("which events (all given must hold)")
    match.add_argument("--channel", help="the event's channel")
    match.add_argument("--text", help="text in the title or body (expect: default the rule's name)")
    match.add_argument("--min-level", help="lowest level that counts")
    match.add_argument("--fingerprint", help="the event's fingerprint")
    match.add_argument("--tag", help="a tag the event carries")
    match.add_argument(
        "-d", "--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata equality"
    )
    kinds = add.add_argument_group("the kind's parameters")
    kinds.add_argument("--every", help="expect: at least this often (90s, 15m, 1d)")
    kinds.add_argument("--grace", help="expect: extra time before it is missed (default every/10, >= 1m)")
    kinds.add_argument("--count", type=int, help="threshold: this many occurrences ...")
    kinds.add_argument("--within", help="threshold: ... within this time")
    kinds.add_argument(
        "--rate", type=float, help="threshold: ... and this many times the usual count for the window"
    )
    kinds.add_argument("--quiet", help="resolve: alerts quiet this long are resolved")
    kinds.add_argument("--level", help="expect/threshold: level of the rule's push (default error)")
    kinds.add_argument("--title", help="expect/threshold: text of the rule's push (default: the name)")
    kinds.add_argument(
        "--step",
        action="append",
        default=None,
        metavar="AFTER:GROUP",
        help="escalate: unacknowledged AFTER its arrival, push to GROUP (repeatable, in order)",
    )
    add.add_argument(
        "--paused", action="store_true", help="declare it paused: kept, not evaluated (add again to resume)"
    )
    add_db_arguments(add)
    add.set_defaults(func=_add)
    group = sub.add_parser("group", help="set a device group for escalate rules (no members: remove it)")
    group.add_argument("group", help="the group's name")
    group.add_argument("members", nargs="*", help="device names or ids (see 'pushlog devices list')")
    add_db_arguments(group)
    group.set_defaults(func=_group)
    remove = sub.add_parser("remove", help="remove a rule")
    remove.add_argument("name")
    add_db_arguments(remove)
    remove.set_defaults(func=_remove)


def declaration(args: argparse.Namespace) -> dict[str, Any]:
    """The rule as ``PUT /v1/rules/{name}`` takes it, from ``add``'s options."""
    match: dict[str, Any] = {}
    text = args.text or (args.name if args.kind == "expect" else None)
    for key, value in (
        ("channel", args.channel),
        ("text", text),
        ("level", args.min_level),
        ("fingerprint", args.fingerprint),
        ("tag", args.tag),
    ):
        if value is not None:
            match[key] = value
    if args.meta:
        pairs = {}
        for item in args.meta:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CLIError(f"--meta wants KEY=VALUE, not {item!r}")
            pairs[key] = value
        match["meta"] = pairs
    rule: dict[str, Any] = {"kind": args.kind, "match": match}
    if args.step:
        steps = []
        for item in args.step:
            after, sep, group = item.partition(":")
            if not sep or not after or not group:
                raise CLIError(f"--step wants AFTER:GROUP (e.g. 10m:oncall-2), not {item!r}")
            steps.append({"after": after, "group": group})
        rule["steps"] = steps
    for key in ("every", "grace", "count", "within", "rate", "quiet", "level", "title"):
        value = getattr(args, key)
        if value is not None:
            rule[key] = value
    if args.paused:
        rule["paused"] = True
    return rule


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _add(args: argparse.Namespace) -> int:
    from pushlog.hub._errors import ApiError
    from pushlog.hub.api.rules import as_dict
    from pushlog.hub.rules import declare, parse_rule
    from pushlog.hub.store import rules as rule_store

    name = args.name.strip()
    if not name or len(name) > 128:
        raise CLIError("the rule's name must be 1-128 characters")
    try:
        spec = parse_rule(declaration(args))
    except ApiError as exc:
        raise CLIError(exc.message) from None
    engine = open_engine(args)
    try:
        with engine.begin() as conn:
            row = rule_store.get_rule(conn, name)
            if row is not None and row.source == "file":
                raise CLIError(f"rule {name!r} comes from the hub's rules file; change it there")
            declared = declare(conn, name=name, spec=spec, source="api", key_id=None, now=_now())
            rule = as_dict(declared.row)
    finally:
        engine.dispose()
    what = "declared" if declared.changed else "unchanged"
    print(f"{what}: {visible(name)} ({rule['kind']}, {rule['state']})")
    return 0


def _list(args: argparse.Namespace) -> int:
    from pushlog.hub.api.rules import as_dict
    from pushlog.hub.store import rules as rule_store

    engine = open_engine(args)
    try:
        with engine.connect() as conn:
            rules = [as_dict(row) for row in rule_store.list_rules(conn)]
    finally:
        engine.dispose()
    if args.json:
        for rule in rules:
            print(json.dumps(rule, ensure_ascii=False))
        return 0
    print(f"{'KIND':<10} {'STATE':<16} {'SINCE':<17} {'SOURCE':<7} NAME")
    for rule in rules:
        since = rule["state_since"][:16].replace("T", " ")
        state = rule_state_text(rule)
        print(f"{rule['kind']:<10} {state:<16} {since:<17} {rule['source']:<7} {visible(rule['name'])}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from pushlog.hub.api.rules import as_dict
    from pushlog.hub.store import rules as rule_store

    engine = open_engine(args)
    try:
        with engine.connect() as conn:
            row = rule_store.get_rule(conn, args.name)
            if row is None:
                raise CLIError(f"no rule named {args.name!r} (see 'pushlog rules list')")
            rule = as_dict(row, rule_store.history(conn, row.id))
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(rule, ensure_ascii=False))
        return 0
    head = f"{visible(rule['name'])}: {rule['kind']} rule ({rule['source']})"
    paused = " (paused: not evaluated)" if rule["paused"] else ""
    print(f"{head}, {rule['state']} since {rule['state_since']}{paused}")
    print(f"  match: {visible(json.dumps(rule['match'], ensure_ascii=False))}")
    for key in (
        "every_s",
        "grace_s",
        "count",
        "within_s",
        "rate",
        "quiet_s",
        "level",
        "title",
        "steps",
        "due_at",
        "last_match_at",
    ):
        if rule[key] is not None:
            print(f"  {key}: {visible(str(rule[key]))}")
    if rule["alert_event_id"]:
        print(f"  open alert: {rule['alert_event_id']}")
    print("  history (newest first):")
    for entry in rule["history"]:
        moved = f"{entry['previous']} -> {entry['state']}" if entry["previous"] else entry["state"]
        detail = f"  {visible(entry['detail'])}" if entry["detail"] else ""
        event = f"  event {entry['event_id']}" if entry["event_id"] else ""
        print(f"    {entry['at']}  {moved}{detail}{event}")
    return 0


def _group(args: argparse.Namespace) -> int:
    from pushlog.hub._models import MAX_GROUP_MEMBERS, MAX_NAME, NAME_RE
    from pushlog.hub.store import rules as rule_store

    if not NAME_RE.fullmatch(args.group):
        raise CLIError("a group's name must be 1-64 letters, digits, '.', '_' or '-'")
    if len(args.members) > MAX_GROUP_MEMBERS or not all(0 < len(m) <= MAX_NAME for m in args.members):
        raise CLIError(f"a group has at most {MAX_GROUP_MEMBERS} members of 1-{MAX_NAME} characters")
    engine = open_engine(args)
    try:
        with engine.begin() as conn:
            if not args.members:
                removed = rule_store.remove_group(conn, args.group)
            else:
                rule_store.set_group(conn, args.group, list(args.members))
                found = rule_store.group_devices(conn, args.group)
    except rule_store.GroupInUseError as exc:
        raise CLIError(visible(str(exc))) from None
    finally:
        engine.dispose()
    if not args.members:
        print(f"removed group {visible(args.group)}" if removed else f"no group {visible(args.group)}")
    else:
        print(
            f"group {visible(args.group)}: {len(args.members)} members, {len(found)} registered devices now"
        )
    return 0


def _remove(args: argparse.Namespace) -> int:
    from pushlog.hub.store import rules as rule_store

    engine = open_engine(args)
    try:
        with engine.begin() as conn:
            if not rule_store.delete_rule(conn, args.name):
                raise CLIError(f"no rule named {args.name!r} (see 'pushlog rules list')")
    finally:
        engine.dispose()
    print(f"removed {visible(args.name)}")
    return 0
