"""``pushlog COMMAND --help`` as people read it: examples for every command, none cut mid-line."""

from __future__ import annotations

import pytest
from tests.cli.pushlog_cli import run_cli

COMMANDS = [
    ("serve",),
    ("send",),
    ("run",),
    ("tail",),
    ("keys",),
    ("devices",),
    ("notify",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_shows_examples_that_run_as_printed(command: tuple[str, ...]) -> None:
    result = run_cli([*command, "--help"], env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "examples:" in lines, result.stdout
    examples = lines[lines.index("examples:") + 1 :]
    commands = [line.strip() for line in examples if line.strip().startswith(f"pushlog {command[0]}")]
    assert commands, result.stdout
    for n, line in enumerate(examples):
        if line.rstrip().endswith("\\"):  # a continued example goes on indented, never at the margin
            assert examples[n + 1].startswith("      "), examples[n + 1]
    for line in lines:
        assert not line.lstrip().startswith(("http://", "https://")), f"a URL cut from its option: {line!r}"
