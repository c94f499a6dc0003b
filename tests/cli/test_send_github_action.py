"""integrations/github-action/action.yml: its steps run as GitHub runs composite bash steps
(``bash --noprofile --norc -eo pipefail``): the install step installs pushlog from this checkout into
a virtual environment, and the `pushlog send` step reaches the real hub."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml
from tests.cli.pushlog_cli import cli_env, real_hub, run_cli
from tests.support.hub_server import ThreadHub

__all__ = ["real_hub"]

ACTION = Path(__file__).parents[2] / "integrations" / "github-action" / "action.yml"
GITHUB = {
    "server_url": "https://github.com",
    "repository": "acme/shop",
    "run_id": "4242",
    "action_path": str(ACTION.parent),  # where GitHub checks the action out: this repository's copy
}


def _action() -> dict[str, Any]:
    return dict(yaml.safe_load(ACTION.read_text()))


def _expand(value: str, inputs: dict[str, str]) -> str:
    """Evaluate the ``${{ inputs.X }}`` / ``${{ github.X }}`` expressions the step's env uses."""

    def one(match: re.Match[str]) -> str:
        scope, _, name = match.group(1).strip().partition(".")
        return inputs[name] if scope == "inputs" else GITHUB[name]

    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


def run_step(
    name: str,
    given: dict[str, str],
    *,
    path: str | None = None,
    runner: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the action's step ``name`` with inputs ``given`` (plus defaults); ``path`` is the PATH
    (default: this test's interpreter first), ``runner`` extra runner variables."""
    action = _action()
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs.update(given)
    missing = [n for n, spec in action["inputs"].items() if spec.get("required") and n not in given]
    assert not missing, missing
    (step,) = [s for s in action["runs"]["steps"] if s["name"] == name]
    env = cli_env({k: _expand(str(v), inputs) for k, v in step.get("env", {}).items()})
    env["PATH"] = path or f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.update({"GITHUB_REPOSITORY": "acme/shop", "GITHUB_REF_NAME": "main", "GITHUB_SHA": "abc123"})
    env.update(runner or {})
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_send_step(given: dict[str, str], *, path: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_step("pushlog send", given, path=path)


def _feed(hub: ThreadHub) -> list[dict[str, Any]]:
    response = httpx.get(f"{hub.base_url}/v1/events", headers={"Authorization": f"Bearer {hub.read_key}"})
    return list(response.json()["events"])


def test_failure_notification_reaches_the_hub(real_hub: ThreadHub) -> None:
    result = run_send_step(
        {
            "dsn": real_hub.dsn,
            "level": "error",
            "title": 'CI: failure on main; rm -rf "$HOME"',
            "message": "fix: checkout `flow`",
            "channel": "ci",
            "tags": "main,ci",
            "data": "actor=octocat\nrun=17\n",
        }
    )
    assert result.returncode == 0, result.stderr
    (event,) = _feed(real_hub)
    assert event["title"] == 'CI: failure on main; rm -rf "$HOME"', "inputs are data, never shell code"
    assert (event["body"], event["level"], event["channel"]) == ("fix: checkout `flow`", "error", "ci")
    assert event["tags"] == ["main", "ci"]
    assert event["link"] == "https://github.com/acme/shop/actions/runs/4242"
    assert event["metadata"] == {
        "actor": "octocat",
        "run": "17",
        "repository": "acme/shop",
        "ref": "main",
        "sha": "abc123",
    }


def test_minimal_inputs_make_a_feed_entry(real_hub: ThreadHub) -> None:
    result = run_send_step({"dsn": real_hub.dsn, "message": "Deployed abc123"})
    assert result.returncode == 0, result.stderr
    (event,) = _feed(real_hub)
    assert (event["title"], event["level"], event["push"]) == ("Deployed abc123", "info", False)


def test_an_unreachable_hub_warns_unless_told_to_fail() -> None:
    dsn = "http://pl_publish_x@127.0.0.1:9"
    lenient = run_send_step({"dsn": dsn, "message": "x", "timeout": "1"})
    assert lenient.returncode == 0
    assert "::warning title=pushlog::pushlog send failed with exit code 3" in lenient.stdout
    strict = run_send_step({"dsn": dsn, "message": "x", "timeout": "1", "fail-on-error": "true"})
    assert strict.returncode == 3


def test_inputs_mirror_the_send_options() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    help_text = run_cli(["send", "--help"]).stdout
    mapping = {
        "message": "--message",
        "title": "--title",
        "level": "--level",
        "channel": "--channel",
        "tags": "--tags",
        "link": "--link",
        "data": "--data",
        "timeout": "--timeout",
    }
    for name, option in mapping.items():
        assert name in action["inputs"], name
        assert option in help_text, option
    install = next(s for s in action["runs"]["steps"] if s["name"] == "Install pushlog")
    assert install["if"] == "inputs.install == 'true'"
    readme = (ACTION.parent / "README.md").read_text()
    assert "if: always()" in readme and "job.status == 'success'" in readme


def test_the_install_step_installs_pushlog_from_the_actions_checkout(
    real_hub: ThreadHub, tmp_path: Path
) -> None:
    """What a workflow gets before pushlog is on the package index: the install step builds this
    checkout into a venv and puts it on GITHUB_PATH; the send step then runs that pushlog."""
    github_path = tmp_path / "github_path"
    github_path.touch()
    system_path = os.pathsep.join(
        p
        for p in os.environ["PATH"].split(os.pathsep)
        if Path(p).resolve() != Path(sys.executable).parent.resolve()
    )
    base_python = Path(getattr(sys, "_base_executable", sys.executable)).parent  # python3 of the runner
    installed = run_step(
        "Install pushlog",
        {"dsn": real_hub.dsn, "message": "x"},
        path=f"{base_python}{os.pathsep}{system_path}",
        runner={"RUNNER_TEMP": str(tmp_path), "GITHUB_PATH": str(github_path)},
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    (added,) = github_path.read_text().splitlines()
    assert Path(added, "pushlog").is_file()
    assert Path(added).parent.parent == tmp_path  # its own venv, not the test's interpreter

    sent = run_send_step(
        {"dsn": real_hub.dsn, "message": "installed from the checkout"},
        path=f"{added}{os.pathsep}{system_path}",
    )
    assert sent.returncode == 0, sent.stderr + sent.stdout
    assert [e["title"] for e in _feed(real_hub)] == ["installed from the checkout"]
