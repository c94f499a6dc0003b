"""``pushlog send`` as a subprocess against an HTTP server speaking the hub's publish protocol."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
from pytest_httpserver import HTTPServer
from tests.cli.pushlog_cli import assert_one_line_error, real_hub, run_cli
from tests.support.hub_server import ThreadHub

__all__ = ["real_hub"]
from werkzeug import Request, Response

from pushlog.cli._send import EPILOG


def _dsn(server: HTTPServer, key: str = "pl_publish_testkey") -> str:
    return f"http://{key}@{server.host}:{server.port}"


def _accept(request: Request) -> Response:
    n = len(request.get_json()["events"])
    return Response(json.dumps({"accepted": n, "duplicates": 0}), 202, content_type="application/json")


def test_send_posts_one_event_with_all_options(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(
        "/v1/events", method="POST", headers={"Authorization": "Bearer pl_publish_testkey"}
    ).respond_with_handler(_accept)
    result = run_cli(
        [
            "send",
            "-m",
            "commit abc in 42s",
            "-t",
            "Deployed",
            "-c",
            "deploys",
            "-g",
            "prod,web",
            "-g",
            "eu",
            "-l",
            "https://ci.example.com/1",
            "-d",
            "sha=abc",
            "-d",
            "env=prod",
            "--level",
            "warning",
        ],
        env={"PUSHLOG_DSN": _dsn(httpserver)},
    )
    assert result.returncode == 0, result.stderr
    httpserver.check_assertions()
    ((request, _),) = httpserver.log
    (event,) = request.get_json()["events"]
    assert event["title"] == "Deployed"
    assert event["body"] == "commit abc in 42s"
    assert event["level"] == "warning"
    assert event["channel"] == "deploys"
    assert event["tags"] == ["prod", "web", "eu"]
    assert event["link"] == "https://ci.example.com/1"
    assert event["metadata"] == {"sha": "abc", "env": "prod"}
    assert event["push"] is True


def test_message_from_stdin_first_line_is_the_title(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/v1/events", method="POST").respond_with_handler(_accept)
    result = run_cli(["send", "-m", "-", "--dsn", _dsn(httpserver)], input="Backup done\n12 GB in 3m\nok\n")
    assert result.returncode == 0, result.stderr
    (event,) = httpserver.log[0][0].get_json()["events"]
    assert (event["title"], event["body"], event["level"]) == ("Backup done", "12 GB in 3m\nok", "info")
    assert event["push"] is False


def test_retries_a_503_then_succeeds(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/v1/events", method="POST").respond_with_json(
        {"error": {"code": "unavailable", "message": "busy"}}, status=503, headers={"Retry-After": "0"}
    )
    httpserver.expect_ordered_request("/v1/events", method="POST").respond_with_handler(_accept)
    result = run_cli(["send", "-m", "hello", "--dsn", _dsn(httpserver)])
    assert result.returncode == 0, result.stderr
    assert len(httpserver.log) == 2
    ids = {req.get_json()["events"][0]["id"] for req, _ in httpserver.log}
    assert len(ids) == 1, "a retry must resend the same event id (idempotency key)"


def test_refused_key_is_one_line_exit_4(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/events", method="POST").respond_with_json(
        {"error": {"code": "unauthorized", "message": "unknown or revoked key"}}, status=401
    )
    result = run_cli(["send", "-m", "hello", "--dsn", _dsn(httpserver, "pl_publish_bad")])
    assert result.returncode == 4
    assert_one_line_error(result, "refused", "401", "unknown or revoked key")
    assert len(httpserver.log) == 1, "a refused request is not retried"


def test_unreachable_hub_gives_up_with_exit_3() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli(["send", "-m", "hello", "--timeout", "1", "--dsn", f"http://k@127.0.0.1:{port}"])
    assert result.returncode == 3
    assert_one_line_error(result, "unreachable", f"127.0.0.1:{port}")


def test_no_dsn_is_one_line_exit_2() -> None:
    result = run_cli(["send", "-m", "hello"])
    assert result.returncode == 2
    assert_one_line_error(result, "PUSHLOG_DSN")


def test_bad_dsn_and_bad_values_are_one_line() -> None:
    assert_one_line_error(run_cli(["send", "-m", "x", "--dsn", "http://nokey.example"]), "no key")
    assert_one_line_error(run_cli(["send", "-m", "x", "--level", "loud", "--dsn", "http://k@h"]), "level")
    assert_one_line_error(run_cli(["send", "-m", "x", "-d", "novalue", "--dsn", "http://k@h"]), "KEY=VALUE")
    assert_one_line_error(run_cli(["send", "-m", "x", "-l", "ftp://x", "--dsn", "http://k@h"]), "--link")
    assert_one_line_error(run_cli(["send", "-m", "", "--dsn", "http://k@h"]), "empty message")


def test_missing_message_is_an_argparse_error() -> None:
    result = run_cli(["send", "--dsn", "http://k@h"])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].endswith("-m/--message")


def test_help_has_examples() -> None:
    result = run_cli(["send", "--help"])
    assert result.returncode == 0
    assert "examples:" in result.stdout
    assert 'pushlog send -m "Deploy finished"' in result.stdout
    assert EPILOG.splitlines()[0] in result.stdout


# -- against the real hub -------------------------------------------------------------------------


def _feed(hub: ThreadHub) -> list[dict[str, Any]]:
    response = httpx.get(f"{hub.base_url}/v1/events", headers={"Authorization": f"Bearer {hub.read_key}"})
    return list(response.json()["events"])


def test_real_hub_stores_what_send_sent(real_hub: ThreadHub) -> None:
    result = run_cli(
        ["send", "-m", "-", "-c", "deploys", "-g", "prod", "-d", "sha=abc", "--level", "error"],
        env={"PUSHLOG_DSN": real_hub.dsn},
        input="Deploy failed\nstep 3 of 5\n",
    )
    assert result.returncode == 0, result.stderr
    (stored,) = _feed(real_hub)
    assert (stored["title"], stored["body"], stored["level"]) == ("Deploy failed", "step 3 of 5", "error")
    assert (stored["channel"], stored["tags"], stored["metadata"]) == ("deploys", ["prod"], {"sha": "abc"})
    assert stored["push"] is True


def test_real_hub_refuses_an_unknown_key(real_hub: ThreadHub) -> None:
    dsn = real_hub.dsn.replace(real_hub.publish_key, "pl_publish_" + "x" * 32)
    result = run_cli(["send", "-m", "hello"], env={"PUSHLOG_DSN": dsn})
    assert result.returncode == 4
    assert_one_line_error(result, "401", "unknown API key")
    assert _feed(real_hub) == []
