"""``pushlog rules add|list|show|remove`` on the data directory beside a running hub (which notices
the change at its next ingest), and ``pushlog serve --rules`` refusing a wrong rules file up front."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.hub_server import ThreadHub, publish, start_hub_thread

from pushlog.cli import main


@pytest.fixture
def running(tmp_path: Path) -> Iterator[ThreadHub]:
    hub = start_hub_thread(tmp_path / "data")
    yield hub
    hub.stop()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_rule_added_from_the_cli_acts_on_the_running_hub(
    running: ThreadHub, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ("--data-dir", str(running.data_dir))
    add = ("rules", "add", "declines", "--kind", "threshold", "--text", "payment declined", "--count", "3")
    code, out, _ = cli(capsys, *add, "--within", "5m", "--min-level", "warning", "-d", "shop=eu", *data)
    assert (code, out.strip()) == (0, "declared: declines (threshold, ok)")
    code, out, _ = cli(capsys, *add, "--within", "5m", "--min-level", "warning", "-d", "shop=eu", *data)
    assert out.strip() == "unchanged: declines (threshold, ok)"

    for n in range(3):
        publish(running, {"title": f"payment declined #{n}", "level": "warning", "metadata": {"shop": "eu"}})
    with running.client(running.read_key) as client:
        titles = [line["title"] for line in client.get("/v1/events").json()["events"]]
    assert titles[0] == "payment declined \u00d73 in 5 min"

    code, out, _ = cli(capsys, "rules", "list", *data)
    assert code == 0 and out.splitlines()[1].split()[:2] == ["threshold", "firing"]
    code, out, _ = cli(capsys, "rules", "show", "declines", *data)
    assert code == 0
    assert '"meta": {"shop": "eu"}' in out and "ok -> firing  3 in 5m  event " in out and "    " in out
    code, out, _ = cli(capsys, "rules", "remove", "declines", *data)
    assert (code, out.strip()) == (0, "removed declines")
    code, _, err = cli(capsys, "rules", "show", "declines", *data)
    assert code != 0 and "no rule named 'declines'" in err


def test_a_threshold_with_a_rate_from_the_cli(running: ThreadHub, capsys: pytest.CaptureFixture[str]) -> None:
    data = ("--data-dir", str(running.data_dir))
    add = ("rules", "add", "spikes", "--kind", "threshold", "--text", "timeout", "--count", "5")
    code, out, _ = cli(capsys, *add, "--within", "5m", "--rate", "3", *data)
    assert (code, out.strip()) == (0, "declared: spikes (threshold, ok)")
    code, out, _ = cli(capsys, "rules", "show", "spikes", *data)
    assert code == 0 and "  rate: 3.0" in out.splitlines()
    code, _, err = cli(
        capsys, "rules", "add", "q", "--kind", "resolve", "--quiet", "5m", "--rate", "3", *data
    )
    assert code != 0 and "rate" in err and "not used by a resolve rule" in err


def test_an_escalation_chain_from_the_cli(running: ThreadHub, capsys: pytest.CaptureFixture[str]) -> None:
    data = ("--data-dir", str(running.data_dir))
    code, out, _ = cli(capsys, "rules", "group", "oncall-2", "bob-phone", "dev_x", *data)
    assert (code, out.strip()) == (0, "group oncall-2: 2 members, 0 registered devices now")
    add = ("rules", "add", "oncall", "--kind", "escalate", "--min-level", "critical")
    code, out, _ = cli(capsys, *add, "--step", "10m:oncall-2", "--step", "30m:managers", *data)
    assert (code, out.strip()) == (0, "declared: oncall (escalate, active)")
    code, out, _ = cli(capsys, "rules", "show", "oncall", *data)
    assert "steps: [{'after_s': 600.0, 'group': 'oncall-2'}, {'after_s': 1800.0, 'group': 'managers'}]" in out
    code, _, err = cli(capsys, *add, "--step", "10m", *data)
    assert code != 0 and "--step wants AFTER:GROUP" in err
    code, _, err = cli(capsys, "rules", "group", "on call", "bob-phone", *data)
    assert code != 0 and "1-64 letters, digits" in err, "the API's rule for a group's name"

    code, out, _ = cli(capsys, *add, "--step", "10m:oncall-2", "--paused", *data)
    assert (code, out.strip()) == (0, "declared: oncall (escalate, active)")
    code, out, _ = cli(capsys, "rules", "show", "oncall", *data)
    assert "active since" in out and "(paused: not evaluated)" in out and "paused (api)" in out
    code, out, _ = cli(capsys, "rules", "list", *data)
    assert code == 0 and out.splitlines()[1].split()[:3] == ["escalate", "active,", "paused"]

    code, _, err = cli(capsys, "rules", "group", "oncall-2", *data)
    assert code != 0 and "device group 'oncall-2' is used by escalate rule 'oncall'" in err
    assert cli(capsys, "rules", "remove", "oncall", *data)[0] == 0
    code, out, _ = cli(capsys, "rules", "group", "oncall-2", *data)
    assert (code, out.strip()) == (0, "removed group oncall-2")


def test_add_refuses_what_the_hub_would(running: ThreadHub, capsys: pytest.CaptureFixture[str]) -> None:
    data = ("--data-dir", str(running.data_dir))
    code, _, err = cli(capsys, "rules", "add", "late", "--kind", "expect", "--count", "3", *data)
    assert code != 0 and "every: required for an expect rule" in err
    code, _, err = cli(
        capsys, "rules", "add", "m", "--kind", "resolve", "--quiet", "10m", "-d", "oops", *data
    )
    assert code != 0 and "--meta wants KEY=VALUE" in err


def test_serve_refuses_a_wrong_rules_file_naming_the_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[rules.backup]\nkind = "expect"\ngrace = "1h"\n', encoding="utf-8")
    code, _, err = cli(capsys, "serve", "--data-dir", str(tmp_path / "d"), "--rules", str(rules))
    assert code == 2 and "rule 'backup': every: required for an expect rule" in err
