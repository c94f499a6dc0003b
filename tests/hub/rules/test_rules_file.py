"""The rules file read on its own (``read_rules_file``): ``[groups]`` names follow the API's rule for a
group's name, and ``paused`` is a field like the API's."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushlog.hub.rules import RulesFileError, read_rules_file


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_groups_and_a_paused_rule_are_read(tmp_path: Path) -> None:
    found = read_rules_file(
        write(
            tmp_path,
            '[groups]\noncall-2 = ["bob-phone", "dev_1"]\n\n'
            '[rules.quiet]\nkind = "resolve"\nquiet = "15m"\npaused = true\n',
        )
    )
    assert found.groups == {"oncall-2": ["bob-phone", "dev_1"]}
    assert found.rules["quiet"].paused and found.rules["quiet"].to_json()["paused"] is True


@pytest.mark.parametrize(
    "groups",
    [
        '"on call" = ["bob-phone"]',  # PUT /v1/device-groups/{name} could not name it
        f'{"x" * 65} = ["bob-phone"]',
        'oncall = "bob-phone"',
        "oncall = [" + ", ".join(['"d"'] * 101) + "]",
    ],
)
def test_a_wrong_group_stops_the_start_saying_how_to_write_one(tmp_path: Path, groups: str) -> None:
    with pytest.raises(RulesFileError, match=r"\[groups\] maps a name \(1-64 letters, digits"):
        read_rules_file(write(tmp_path, f"[groups]\n{groups}\n"))
