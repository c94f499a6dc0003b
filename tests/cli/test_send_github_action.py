"""integrations/github-action/action.yml: its `pushlog send` step runs, as GitHub runs composite bash
steps (``bash --noprofile --norc -eo pipefail``), against the real hub."""

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
}


def _action() -> dict[str, Any]:
    return dict(yaml.safe_load(ACTION.read_text()))


def _expand(value: str, inputs: dict[str, str]) -> str:
    """Evaluate the ``${{ inputs.X }}`` / ``${{ github.X }}`` expressions the step's env uses."""

    def one(match: re.Match[str]) -> str:
        scope, _, name = match.group(1).strip().partition(".")
        return inputs[name] if scope == "inputs" else GITHUB[name]

    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


def run_send_step(given: dict[str, str]) -> subprocess.CompletedProcess[str]:
    action = _action()
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs.update(given)
    missing = [n for n, spec in action["inputs"].items() if spec.get("required") and n not in given]
    assert not missing, missing
    (step,) = [s for s in action["runs"]["steps"] if s["name"] == "pushlog send"]
    env = cli_env({k: _expand(str(v), inputs) for k, v in step["env"].items()})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.update({"GITHUB_REPOSITORY": "acme/shop", "GITHUB_REF_NAME": "main", "GITHUB_SHA": "abc123"})
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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
    assert "pip install" in install["run"]
    readme = (ACTION.parent / "README.md").read_text()
    assert "if: always()" in readme and "job.status == 'success'" in readme
