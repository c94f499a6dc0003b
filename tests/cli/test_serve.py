"""``pushlog serve`` as a user runs it: banner, reuse on restart, --db, one-line errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.support.hub_server import start_hub_process


def banner_of(output: list[str]) -> str:
    return "\n".join(output)


def test_first_start_prints_url_dsn_read_key_and_a_python_example(tmp_path: Path) -> None:
    running = start_hub_process(tmp_path / "data")
    try:
        text = banner_of(running.output)
        assert f"listening on {running.base_url}" in text
        assert f"export PUSHLOG_DSN={running.dsn}" in text
        assert running.read_key in text
        assert "import logging, pushlog" in text
        assert "pushlog.PushHandler()" in text
        assert running.admin_key not in text  # the admin key stays in credentials.json
    finally:
        running.stop()

    again = start_hub_process(tmp_path / "data")
    try:
        assert f"export PUSHLOG_DSN={again.dsn}" in banner_of(again.output)
        assert again.publish_key == running.publish_key
    finally:
        again.stop()


def test_db_option_takes_a_database_url(tmp_path: Path) -> None:
    db_file = tmp_path / "elsewhere" / "hub.sqlite"
    running = start_hub_process(tmp_path / "data", args=("--db", f"sqlite:///{db_file}"))
    try:
        with running.client(running.publish_key) as client:
            assert client.post("/v1/events", json={"events": [{"title": "t"}]}).status_code == 202
    finally:
        running.stop()
    assert db_file.exists()
    assert not (tmp_path / "data" / "pushlog.db").exists()


def test_a_busy_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pushlog",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "d"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith(f"pushlog: cannot listen on 127.0.0.1:{port}")


def test_an_unusable_database_url_is_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pushlog",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
            "--db",
            "nosuchdb://x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("pushlog: cannot open the hub's data")


def test_every_limit_has_a_serve_flag_that_reaches_the_config() -> None:
    from pushlog.cli import build_parser
    from pushlog.cli._serve import _config

    flags = {
        "--header-timeout": ("header_timeout", "4"),
        "--body-timeout": ("body_timeout", "12"),
        "--max-connections": ("max_connections", "77"),
        "--max-streams": ("max_streams", "9"),
        "--max-streams-per-key": ("max_streams_per_key", "3"),
        "--auth-failures": ("auth_failures_per_minute", "5"),
        "--push-budget": ("push_budget_per_minute", "6"),
        "--max-critical-series": ("max_critical_series", "2"),
    }
    argv = ["serve", *[part for flag, (_, value) in flags.items() for part in (flag, value)]]
    config = _config(build_parser().parse_args(argv))
    assert {field: float(getattr(config, field)) for field, _ in flags.values()} == {
        field: float(value) for field, value in flags.values()
    }
