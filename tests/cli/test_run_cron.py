"""integrations/cron: every job line of the example crontab runs as cron would run it (``/bin/sh -c``
with the crontab's variables), against the real hub; ``heartbeat.sh`` checks in with curl alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from tests.cli.pushlog_cli import real_hub
from tests.support.hub_server import ThreadHub

__all__ = ["real_hub"]

CRON = Path(__file__).parents[2] / "integrations" / "cron"
_ENV_LINE = re.compile(r"^([A-Z_]+)=(.*)$")
_FIELD = r"[\d*/,-]+"
_JOB_LINE = re.compile(rf"^({_FIELD}) ({_FIELD}) ({_FIELD}) ({_FIELD}) ({_FIELD}) (.+)$")


def parse_crontab(text: str) -> tuple[dict[str, str], list[str]]:
    """(variables, job commands); fails on any line that is neither."""
    variables: dict[str, str] = {}
    jobs: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if match := _ENV_LINE.match(line):
            variables[match.group(1)] = match.group(2)
        elif match := _JOB_LINE.match(line):
            assert "%" not in match.group(6), "cron turns % into a newline"
            jobs.append(match.group(6))
        else:
            raise AssertionError(f"not a crontab line: {line!r}")
    return variables, jobs


def _stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _get(hub: ThreadHub, path: str) -> Any:
    return httpx.get(f"{hub.base_url}{path}", headers={"Authorization": f"Bearer {hub.read_key}"}).json()


def _run_job(
    command: str, variables: dict[str, str], stubs: Path, dsn: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHLOG_")}
    env.update(variables)
    env["PUSHLOG_DSN"] = dsn
    # cron's PATH as written, with the job stubs and this checkout's pushlog in front of it
    env["PATH"] = os.pathsep.join(
        [str(stubs), str(CRON), str(Path(sys.executable).parent), variables["PATH"]]
    )
    return subprocess.run(
        [variables.get("SHELL", "/bin/sh"), "-c", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_crontab_job_runs_and_reports(real_hub: ThreadHub, tmp_path: Path) -> None:
    variables, jobs = parse_crontab((CRON / "crontab").read_text())
    assert variables["SHELL"] == "/bin/sh" and variables["PUSHLOG_DSN"].startswith("https://pl_publish_")
    assert len(jobs) == 3
    _stub(tmp_path, "backup.sh", '[ "$1" = "--full" ] || exit 9; echo "backed up"')
    _stub(tmp_path, "sync-queue.sh", 'echo "queue stuck" >&2; exit 1')
    _stub(tmp_path, "hourly-report.sh", "echo report")
    results = [_run_job(job, variables, tmp_path, real_hub.dsn) for job in jobs]
    assert [r.returncode for r in results] == [0, 1, 0], [r.stderr for r in results]
    assert results[0].stdout == "backed up\n"

    beats = {b["name"]: b for b in _get(real_hub, "/v1/heartbeats")["heartbeats"]}
    assert set(beats) == {"nightly-backup", "queue-sync", "hourly-report"}
    assert (beats["nightly-backup"]["every_s"], beats["nightly-backup"]["grace_s"]) == (86400, 3600)
    assert beats["nightly-backup"]["last_success_at"] is not None
    assert beats["queue-sync"]["every_s"] == 300 and beats["queue-sync"]["last_exit_code"] == 1
    assert beats["queue-sync"]["last_success_at"] is None
    assert beats["hourly-report"]["every_s"] == 3600 and beats["hourly-report"]["last_success_at"]

    events = _get(real_hub, "/v1/events")["events"]
    by_title = {e["title"].split(" ")[0] + " " + e["level"]: e for e in events}
    assert set(by_title) == {"nightly-backup info", "queue-sync critical"}
    assert by_title["queue-sync critical"]["body"] == "queue stuck"


def test_heartbeat_sh_checks_in_and_fails_loudly(real_hub: ThreadHub) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHLOG_")}
    script = str(CRON / "heartbeat.sh")
    ok = subprocess.run(
        [script, "db-dump", "1d", "start"],
        env={**env, "PUSHLOG_DSN": real_hub.dsn + "/"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    beat = _get(real_hub, "/v1/heartbeats/db-dump")
    assert (beat["every_s"], beat["last_start_at"] is not None) == (86400, True)
    refused = subprocess.run(
        [script, "db-dump"],
        env={**env, "PUSHLOG_DSN": real_hub.dsn.replace(real_hub.publish_key, "pl_publish_bogus")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert refused.returncode != 0 and "401" in refused.stderr
    usage = subprocess.run([script], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert usage.returncode == 2 and "usage" in usage.stderr
