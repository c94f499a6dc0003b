"""integrations/systemd: the units pass ``systemd-analyze verify``, and the OnFailure= template's
ExecStart, expanded the way systemd expands it, reports a failed unit to the real hub."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from tests.cli.pushlog_cli import real_hub
from tests.support.hub_server import ThreadHub

__all__ = ["real_hub"]

SYSTEMD = Path(__file__).parents[2] / "integrations" / "systemd"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((SYSTEMD / name).read_text())
    return parser


def _verify(*paths: Path) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian package systemd; see Makefile system-deps)"
    return subprocess.run(
        [analyze, "verify", "--man=no", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_units_verify(tmp_path: Path) -> None:
    template = SYSTEMD / "pushlog-failure@.service"
    # an instance of the template, exactly as written
    instance = tmp_path / "pushlog-failure@backup.service.service"
    shutil.copy(template, tmp_path / template.name)
    result = _verify(instance)
    assert result.returncode == 0, result.stderr
    # the example job: verified with its ExecStart pointed at an existing program (backup.sh is yours)
    job = (SYSTEMD / "backup.service").read_text().replace("/usr/local/bin/backup.sh", "/bin/true")
    (tmp_path / "backup.service").write_text(job)
    shutil.copy(SYSTEMD / "backup.timer", tmp_path / "backup.timer")
    result = _verify(tmp_path / "backup.service", tmp_path / "backup.timer")
    assert result.returncode == 0, result.stderr
    assert _unit("backup.service")["Unit"]["OnFailure"] == "pushlog-failure@%n.service"


def _expand(command: str, specifiers: dict[str, str]) -> list[str]:
    """systemd's ExecStart handling for what the template uses: specifiers, ``$$`` and quoting."""
    for spec, value in specifiers.items():
        command = command.replace(spec, value)
    return shlex.split(command.replace("$$", "$"))


def test_on_failure_template_reports_the_failed_unit(real_hub: ThreadHub, tmp_path: Path) -> None:
    service = _unit("pushlog-failure@.service")["Service"]
    assert service["EnvironmentFile"] == "/etc/pushlog/pushlog.env"
    env_file = dict(
        line.split("=", 1)
        for line in (SYSTEMD / "pushlog.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(env_file) == {"PUSHLOG_DSN"}
    stub = tmp_path / "journalctl"
    stub.write_text(
        '#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\necho "backup.sh: disk full"\necho "exit 1"\n'
    )
    stub.chmod(0o755)
    host = socket.gethostname()
    argv = _expand(service["ExecStart"], {"%i": "backup.service", "%H": host, "%%": "%"})
    assert argv[:2] == ["/bin/sh", "-c"] and argv[3:] == ["pushlog-failure", "backup.service", host]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHLOG_")}
    env["PUSHLOG_DSN"] = real_hub.dsn
    env["PATH"] = os.pathsep.join([str(tmp_path), str(Path(sys.executable).parent), "/usr/bin:/bin"])
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "args").read_text().split() == [
        "--unit=backup.service",
        "--lines=20",
        "--no-pager",
        "--output=cat",
    ]
    events: list[dict[str, Any]] = httpx.get(
        f"{real_hub.base_url}/v1/events", headers={"Authorization": f"Bearer {real_hub.read_key}"}
    ).json()["events"]
    (event,) = events
    assert (event["level"], event["channel"]) == ("error", "systemd")
    assert event["title"] == f"backup.service failed on {host}"
    assert event["body"] == "backup.sh: disk full\nexit 1"
    assert event["metadata"] == {"unit": "backup.service", "host": host}
