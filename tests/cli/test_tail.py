"""``pushlog tail --plain/--json`` as a subprocess against the real hub on loopback."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from tests.cli.pushlog_cli import (
    LineReader,
    assert_one_line_error,
    publish_events,
    real_hub,
    run_cli,
    spawn_cli,
    stop,
)
from tests.support.hub_server import ThreadHub, start_hub_process

__all__ = ["real_hub"]


def _env(hub: ThreadHub, key: str | None = None) -> dict[str, str]:
    return {"PUSHLOG_URL": hub.base_url, "PUSHLOG_READ_KEY": key or hub.read_key}


def test_history_oldest_first_and_plain_when_piped(real_hub: ThreadHub) -> None:
    publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {"title": "first", "level": "info", "channel": "deploys"},
        {"title": "second", "level": "warning", "body": "b1\nb2", "tags": ["db"], "metadata": {"k": "v"}},
        {"title": "third", "level": "error"},
    )
    result = run_cli(["tail", "--no-follow"], env=_env(real_hub))  # stdout is a pipe: plain lines
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[2] for line in lines] == ["first", "second", "third"]
    assert lines[0].split()[1] == "INFO" and "[deploys]" in lines[0]
    assert "WARNING" in lines[1] and "— b1" in lines[1] and "b2" not in lines[1]
    assert "#db" in lines[1] and "k=v" in lines[1]
    assert "\x1b[" not in result.stdout, "no colours when not a terminal"


def test_a_resolved_alert_says_how_long_it_lasted(real_hub: ThreadHub) -> None:
    publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {"title": "gateway down", "level": "error", "fingerprint": "gw"},
        {"title": "gateway back", "level": "info", "resolves": "gw"},
    )
    result = run_cli(["tail", "--no-follow"], env=_env(real_hub))
    assert result.returncode == 0, result.stderr
    down, back = result.stdout.splitlines()
    assert down.split()[2:4] == ["gateway", "down"] and down.endswith("(resolved after 0 s)")
    assert "resolved" not in back


def test_filters_and_count(real_hub: ThreadHub) -> None:
    publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        *[{"title": f"info {i}", "level": "info"} for i in range(5)],
        {"title": "disk full", "level": "error", "channel": "ops", "metadata": {"host": "db-1"}},
        {"title": "disk slow", "level": "warning", "channel": "ops", "metadata": {"host": "db-2"}},
    )
    env = _env(real_hub)
    two = run_cli(["tail", "--plain", "-n", "2", "--no-follow"], env=env)
    assert [line.split()[2] for line in two.stdout.splitlines()] == ["disk", "disk"]
    errors = run_cli(["tail", "--plain", "--no-follow", "--level", "error"], env=env)
    assert len(errors.stdout.splitlines()) == 1 and "disk full" in errors.stdout
    by_meta = run_cli(["tail", "--plain", "--no-follow", "-c", "ops", "-d", "host=db-2"], env=env)
    assert by_meta.stdout.count("\n") == 1 and "disk slow" in by_meta.stdout
    text = run_cli(["tail", "--plain", "--no-follow", "-q", "FULL"], env=env)
    assert text.stdout.count("\n") == 1 and "disk full" in text.stdout
    many = run_cli(["tail", "--plain", "--no-follow", "-n", "250"], env=env)
    assert many.stdout.count("\n") == 7


def test_json_lines_are_stored_events(real_hub: ThreadHub) -> None:
    (sent,) = publish_events(
        real_hub.base_url, real_hub.publish_key, {"title": "paid", "level": "warning", "metadata": {"n": 3}}
    )
    result = run_cli(["tail", "--json", "--no-follow"], env=_env(real_hub))
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    stored = json.loads(line)
    assert stored["id"] == sent["id"]
    assert stored["metadata"] == {"n": 3}
    assert isinstance(stored["seq"], int)


def test_follow_prints_live_events_and_acks(real_hub: ThreadHub) -> None:
    publish_events(real_hub.base_url, real_hub.publish_key, {"title": "before", "level": "info"})
    process = spawn_cli(["tail", "--plain", "-n", "1"], env=_env(real_hub))
    try:
        out = LineReader(process)
        assert "before" in out.next()
        # anything published after the history was read is streamed (resumes after its seq): no race
        (crit,) = publish_events(
            real_hub.base_url, real_hub.publish_key, {"title": "pay down", "level": "critical"}
        )
        assert "CRITICAL" in (line := out.next()) and "pay down" in line
        publish_events(real_hub.base_url, real_hub.publish_key, {"title": "after", "level": "debug"})
        assert "after" in out.next()
        ack = httpx.post(
            f"{real_hub.base_url}/v1/events/{crit['id']}/ack",
            json={},
            headers={"Authorization": f"Bearer {real_hub.read_key}"},
        )
        assert ack.status_code == 200, ack.text
        line = out.next()
        assert "ACK" in line and crit["id"] in line
    finally:
        _code, err = stop(process)
    assert "Traceback" not in err


def test_follow_json_with_a_filter(real_hub: ThreadHub) -> None:
    publish_events(real_hub.base_url, real_hub.publish_key, {"title": "seed", "level": "error"})
    process = spawn_cli(["tail", "--json", "-n", "1", "--level", "error"], env=_env(real_hub))
    try:
        out = LineReader(process)
        assert json.loads(out.next())["title"] == "seed"
        publish_events(
            real_hub.base_url,
            real_hub.publish_key,
            {"title": "quiet", "level": "info"},
            {"title": "loud", "level": "error"},
        )
        assert json.loads(out.next())["title"] == "loud"
    finally:
        stop(process)


def test_follow_reports_a_grown_count_as_an_update_line(real_hub: ThreadHub) -> None:
    (first,) = publish_events(real_hub.base_url, real_hub.publish_key, {"title": "db down", "level": "error"})
    as_json = spawn_cli(["tail", "--json", "-n", "1"], env=_env(real_hub))
    plain = spawn_cli(["tail", "--plain", "-n", "1"], env=_env(real_hub))
    try:
        json_out, plain_out = LineReader(as_json), LineReader(plain)
        assert json.loads(json_out.next())["id"] == first["id"]
        assert "db down" in plain_out.next()
        publish_events(
            real_hub.base_url,
            real_hub.publish_key,
            {"title": "db down", "level": "error", "count": 999, "push": False, "repeat_of": first["id"]},
        )
        update = json.loads(json_out.next())
        assert (update["type"], update["id"], update["count"]) == ("update", first["id"], 1000)
        line = plain_out.next()
        assert "REPEAT" in line and first["id"] in line and line.endswith("now x1000")
        publish_events(real_hub.base_url, real_hub.publish_key, {"title": "marker", "level": "info"})
        assert json.loads(json_out.next())["title"] == "marker"  # no extra line for the hidden follow-up
        assert "marker" in plain_out.next()
    finally:
        stop(as_json)
        stop(plain)


def test_errors_are_one_line(real_hub: ThreadHub) -> None:
    no_key = run_cli(["tail", "--plain", "--url", real_hub.base_url])
    assert no_key.returncode == 2
    assert_one_line_error(no_key, "read key", "PUSHLOG_READ_KEY")
    no_url = run_cli(["tail", "--plain", "--key", "x"])
    assert no_url.returncode == 2
    assert_one_line_error(no_url, "no hub URL")
    publish_key = run_cli(["tail", "--plain", "--no-follow"], env=_env(real_hub, real_hub.publish_key))
    assert publish_key.returncode == 4
    assert_one_line_error(publish_key, "403")
    bad_level = run_cli(["tail", "--plain", "--level", "loud"], env=_env(real_hub))
    assert_one_line_error(bad_level, "unknown level")


def test_unreachable_hub_is_exit_3() -> None:
    result = run_cli(["tail", "--plain", "--url", "http://127.0.0.1:9", "--key", "k", "--no-follow"])
    assert result.returncode == 3
    assert_one_line_error(result, "cannot reach the hub")


def test_url_defaults_to_the_dsn_host(real_hub: ThreadHub) -> None:
    publish_events(real_hub.base_url, real_hub.publish_key, {"title": "via dsn", "level": "info"})
    result = run_cli(
        ["tail", "--no-follow"], env={"PUSHLOG_DSN": real_hub.dsn, "PUSHLOG_READ_KEY": real_hub.read_key}
    )
    assert result.returncode == 0, result.stderr
    assert "via dsn" in result.stdout


def test_help_has_examples() -> None:
    result = run_cli(["tail", "--help"])
    assert result.returncode == 0
    assert "pushlog tail --json -d user_id=42 | jq .title" in result.stdout


def test_heartbeats_table_and_json(real_hub: ThreadHub) -> None:
    env = _env(real_hub)
    empty = run_cli(["tail", "--heartbeats"], env=env)
    assert empty.returncode == 0 and "no heartbeats yet" in empty.stdout
    headers = {"Authorization": f"Bearer {real_hub.publish_key}"}
    for name, body in (
        ("zeta", {"every": "1d", "grace": "1h"}),
        ("adhoc", {"status": "failure"}),
        ("mailer", {"every": "6h", "grace": "30m"}),
        ("mailer", {"status": "failure", "exit_code": 2}),  # on time, but its last run failed
    ):
        response = httpx.post(f"{real_hub.base_url}/v1/heartbeats/{name}", json=body, headers=headers)
        assert response.status_code == 200
    table = run_cli(["tail", "--heartbeats"], env=env)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:4] == ["NAME", "STATUS", "EVERY", "GRACE"]
    assert [r.split()[:4] for r in rows] == [
        ["mailer", "failed", "6h", "30m"],
        ["zeta", "up", "1d", "1h"],
        ["adhoc", "unmonitored", "-", "-"],
    ]
    as_json = run_cli(["tail", "--heartbeats", "--json"], env=env)
    by_name = {json.loads(line)["name"]: json.loads(line) for line in as_json.stdout.splitlines()}
    assert sorted(by_name) == ["adhoc", "mailer", "zeta"]
    assert by_name["mailer"]["status"] == "up"  # --json is the API's data, unchanged


def test_follow_survives_a_hub_restart_without_losing_or_doubling(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = tmp_path / "hub"
    first = start_hub_process(data, port=port)
    process = None
    try:
        publish_events(first.base_url, first.publish_key, {"title": "before restart", "level": "info"})
        env = {"PUSHLOG_URL": first.base_url, "PUSHLOG_READ_KEY": first.read_key}
        process = spawn_cli(["tail", "--plain", "-n", "1"], env=env)
        out = LineReader(process)
        assert "before restart" in out.next()
        first.terminate()
        second = start_hub_process(data, port=port)
        try:
            # published at once: the tail is most likely still waiting to reconnect; it must catch up
            publish_events(second.base_url, second.publish_key, {"title": "while away", "level": "info"})
            assert "while away" in out.next(timeout=30)
            publish_events(second.base_url, second.publish_key, {"title": "after", "level": "info"})
            assert "after" in out.next(timeout=30)
        finally:
            second.stop()
    finally:
        first.stop()
        if process is not None:
            _code, err = stop(process)
            assert "Traceback" not in err, err


def test_a_reader_that_goes_away_ends_tail_quietly(real_hub: ThreadHub) -> None:
    big = [{"title": f"event {i}", "body": "x" * 4000} for i in range(150)]  # ~600 kB: more than a pipe holds
    publish_events(real_hub.base_url, real_hub.publish_key, *big)
    process = spawn_cli(["tail", "--json", "-n", "150", "--no-follow"], env=_env(real_hub))
    assert process.stdout is not None
    assert json.loads(process.stdout.readline())["title"] == "event 0"
    process.stdout.close()  # like `| head -1`: the rest of the output hits a closed pipe
    code = process.wait(timeout=30)
    err = process.stderr.read() if process.stderr else ""
    assert code == 0, err
    assert err == ""


def test_finds_the_hub_served_from_this_directory_without_options(tmp_path: Path) -> None:
    """The README's flow: 'make run' (pushlog serve, data in ./.pushlog), then 'pushlog tail' in a
    fresh shell in the same directory, with no URL, key or DSN in the environment."""
    running = start_hub_process(tmp_path / ".pushlog")
    try:
        publish_events(running.base_url, running.publish_key, {"title": "found it", "level": "warning"})
        result = run_cli(["tail", "--plain", "--no-follow"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "found it" in result.stdout

        elsewhere = run_cli(["tail", "--plain", "--no-follow", "--url", "http://127.0.0.1:9"], cwd=tmp_path)
        assert_one_line_error(elsewhere, "no read key")  # the local read key goes to the local hub only
    finally:
        running.stop()
    nowhere = run_cli(["tail", "--plain", "--no-follow"], cwd=tmp_path / ".pushlog")
    assert_one_line_error(nowhere, "no hub URL", "pushlog serve")


EVIL = "\x1b]0;owned\x07ok\x1b[2K\r\x9b2J\u202eevil"  # retitle, bell, erase line, CR, C1 CSI, RLO


def test_control_characters_are_shown_never_obeyed(real_hub: ThreadHub) -> None:
    (sent,) = publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {"title": EVIL, "level": "warning", "body": EVIL, "channel": "c\x1b[0m", "metadata": {"k\x1b": EVIL}},
    )
    raw = ("\x1b", "\x07", "\r", "\x9b", "\u202e")
    plain = run_cli(["tail", "--plain", "--no-follow"], env=_env(real_hub))
    assert plain.returncode == 0, plain.stderr
    assert not [c for c in raw if c in plain.stdout], repr(plain.stdout)
    assert "\\x1b]0;owned\\x07ok\\x1b[2K\\x0d\\x9b2J\\u202eevil" in plain.stdout
    assert "[c\\x1b[0m]" in plain.stdout and "k\\x1b=" in plain.stdout

    as_json = run_cli(["tail", "--json", "--no-follow"], env=_env(real_hub))
    assert as_json.returncode == 0, as_json.stderr
    assert not [c for c in raw if c in as_json.stdout], repr(as_json.stdout)
    stored = json.loads(as_json.stdout)
    assert (stored["id"], stored["title"], stored["body"]) == (sent["id"], EVIL, EVIL)  # same data, escaped
    assert stored["metadata"] == {"k\x1b": EVIL}


def test_history_is_in_log_order_not_arrival_order(real_hub: ThreadHub) -> None:
    """The client sends pushes first, so the INFO logged before a WARNING reaches the hub after it."""
    now = datetime.now(UTC)
    publish_events(
        real_hub.base_url, real_hub.publish_key, {"title": "declined", "level": "warning", "ts": now}
    )
    publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {"title": "started", "level": "info", "ts": now - timedelta(seconds=1)},
    )
    result = run_cli(["tail", "--plain", "--no-follow"], env=_env(real_hub))
    assert result.returncode == 0, result.stderr
    assert [line.split()[2] for line in result.stdout.splitlines()] == ["started", "declined"]


def test_follow_reports_a_resolved_alert_as_a_resolved_line(real_hub: ThreadHub) -> None:
    (alert,) = publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {"title": "gateway down", "level": "error", "fingerprint": "gw"},
    )
    as_json = spawn_cli(["tail", "--json", "-n", "1"], env=_env(real_hub))
    plain = spawn_cli(["tail", "--plain", "-n", "1"], env=_env(real_hub))
    try:
        json_out, plain_out = LineReader(as_json), LineReader(plain)
        assert json.loads(json_out.next())["id"] == alert["id"]
        first = plain_out.next()
        assert "gateway down" in first and "resolved" not in first
        # a line that only the live stream brings: both tails are connected past this point
        publish_events(real_hub.base_url, real_hub.publish_key, {"title": "marker", "level": "info"})
        assert json.loads(json_out.next())["title"] == "marker"
        assert "marker" in plain_out.next()
        (back,) = publish_events(
            real_hub.base_url,
            real_hub.publish_key,
            {"title": "gateway back", "level": "info", "resolves": "gw"},
        )
        assert json.loads(json_out.next())["id"] == back["id"]
        resolved = json.loads(json_out.next())
        assert (resolved["type"], resolved["id"], resolved["resolved_by"]) == (
            "resolved",
            alert["id"],
            f"event:{back['id']}",
        )
        assert "gateway back" in plain_out.next()
        line = plain_out.next()
        assert "RESOLVED" in line and alert["id"] in line and "resolved after" in line
    finally:
        stop(as_json)
        stop(plain)


def test_lines_of_an_incident_say_how_many_lines_it_has(real_hub: ThreadHub) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ago = [(now - timedelta(minutes=m)) for m in range(13)]
    publish_events(
        real_hub.base_url,
        real_hub.publish_key,
        {"title": "db timeout", "level": "error", "fingerprint": "db", "ts": ago[12]},
        {"title": "deployed", "level": "info", "ts": ago[6]},
        {"title": "db timeout", "level": "error", "fingerprint": "db", "ts": ago[4]},
    )
    process = spawn_cli(["tail", "--plain", "-n", "3"], env=_env(real_hub))
    try:
        out = LineReader(process)
        label = f"(incident: 2 lines, first {ago[12]:%H:%M:%S}, last {ago[4]:%H:%M:%S})"
        first, deployed, second = out.next(), out.next(), out.next()
        assert first.endswith(label) and second.endswith(label), (first, second)
        assert "incident" not in deployed
        publish_events(
            real_hub.base_url,
            real_hub.publish_key,
            {"title": "db timeout", "level": "error", "fingerprint": "db", "ts": now},
        )
        live = out.next()
        assert live.endswith(f"(incident: 3 lines, first {ago[12]:%H:%M:%S}, last {now:%H:%M:%S})"), live
    finally:
        stop(process)
