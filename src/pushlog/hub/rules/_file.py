"""The rules file a hub loads at start (``pushlog serve --rules rules.toml``), so rules can live in
the app's repository. TOML (the standard library's ``tomllib``; no extra dependency): one table per
rule under ``[rules.NAME]`` with the fields of ``PUT /v1/rules/{name}``::

    [rules."nightly backup finished"]
    kind = "expect"
    every = "1d"
    grace = "1h"
    match = { channel = "backup" }

Device groups for ``escalate`` rules go under ``[groups]`` (``oncall-2 = ["alice-phone", "dev_…"]``:
device names or ids). Rules from the file are declared with source ``file`` at every start
(unchanged ones are left as they are, with their state); rules the file declared before and no
longer does are removed.
"""

from __future__ import annotations

import datetime as _dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .._errors import ApiError
from .._models import MAX_GROUP_MEMBERS, MAX_NAME, NAME_RE
from ..store.rules import delete_file_rules_except, set_group
from ._engine import declare
from ._spec import RuleSpec, parse_rule


class RulesFileError(ValueError):
    """The rules file cannot be read or declares an invalid rule (the message says where)."""


@dataclass(frozen=True, slots=True)
class RulesFile:
    rules: dict[str, RuleSpec]
    #: Device groups for escalate rules: name -> device ids or names.
    groups: dict[str, list[str]]


def _group_ok(name: str, members: Any) -> bool:
    return (
        NAME_RE.fullmatch(name) is not None
        and isinstance(members, list)
        and len(members) <= MAX_GROUP_MEMBERS
        and all(isinstance(m, str) and 0 < len(m) <= MAX_NAME for m in members)
    )


def read_rules_file(path: Path) -> RulesFile:
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesFileError(f"{path}: {exc}") from None
    unknown = set(data) - {"rules", "groups"}
    if unknown:
        raise RulesFileError(
            f"{path}: unknown top-level key(s) {sorted(unknown)}; rules go under [rules.NAME], device "
            "groups under [groups]"
        )
    tables = data.get("rules", {})
    if not isinstance(tables, dict):
        raise RulesFileError(f"{path}: [rules] must be a table of rules")
    specs: dict[str, RuleSpec] = {}
    for name, table in tables.items():
        if not 1 <= len(name) <= 128 or name != name.strip():
            raise RulesFileError(f"{path}: rule name {name!r}: 1-128 characters, no surrounding spaces")
        try:
            specs[name] = parse_rule(table)
        except ApiError as exc:
            raise RulesFileError(f"{path}: rule {name!r}: {exc.message}") from None
    groups = data.get("groups", {})
    if not isinstance(groups, dict) or not all(_group_ok(name, members) for name, members in groups.items()):
        raise RulesFileError(
            f"{path}: [groups] maps a name (1-64 letters, digits, . _ -) to a list of at most "
            f'{MAX_GROUP_MEMBERS} device names or ids: oncall = ["alice"]'
        )
    return RulesFile(rules=specs, groups={name: list(members) for name, members in groups.items()})


def apply_rules_file(conn: sa.Connection, found: RulesFile, *, now: _dt.datetime) -> list[str]:
    """Declare the file's rules (source ``file``) and remove file rules it no longer has; set its
    device groups. A rule of the same name declared through the API or a client is taken over by the
    file. Returns the names of the rules that changed."""
    for group, members in found.groups.items():
        set_group(conn, group, members)
    specs = found.rules
    changed = [
        name
        for name, spec in specs.items()
        if declare(conn, name=name, spec=spec, source="file", key_id=None, now=now).changed
    ]
    return changed + delete_file_rules_except(conn, set(specs))
