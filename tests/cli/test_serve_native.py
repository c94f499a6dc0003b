"""``pushlog serve`` with FCM/APNs options: unusable credentials or a partial APNs set are one-line errors,
and the FCM credentials may come from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def serve(
    tmp_path: Path, *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pushlog",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip().count("\n") == 0, result.stderr
    return result.stderr


def test_a_partial_apns_set_is_refused(tmp_path: Path) -> None:
    error = one_line_error(serve(tmp_path, "--apns-key", str(tmp_path / "k.p8"), "--apns-topic", "app"))
    assert "--apns-key-id" in error and "--apns-team-id" in error


@pytest.mark.parametrize("content", ["not json", '{"type": "authorized_user"}'])
def test_unusable_fcm_credentials_from_the_environment_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "sa.json"
    path.write_text(content)
    error = one_line_error(serve(tmp_path, env={"PUSHLOG_FCM_CREDENTIALS": str(path)}))
    assert error.startswith("pushlog: ") and ("service-account" in error or "service_account" in error)


def test_an_apns_key_that_is_not_p256_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "AuthKey.p8"
    key.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    options = ["--apns-key", str(key), "--apns-key-id", "K", "--apns-team-id", "T", "--apns-topic", "app"]
    assert "APNs key" in one_line_error(serve(tmp_path, *options))
