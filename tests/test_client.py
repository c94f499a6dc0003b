"""Client lifecycle and the module API: flush/close bounds, exit, fork, dictConfig re-run, inert mode."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import StandInHub
from tests.support.hub_server import free_port, wait_until

import pushlog
from pushlog import Client
from pushlog._client import close_all
from pushlog._event import Event
from pushlog._levels import Level


def run_python(code: str, *, dsn: str | None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PUSHLOG_DSN"}
    if dsn is not None:
        env["PUSHLOG_DSN"] = dsn
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def default_client(hub: StandInHub, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.setenv("PUSHLOG_DSN", hub.dsn)
    previous = pushlog.set_default_client(None)
    client = pushlog.get_default_client()
    yield client
    client.close()
    pushlog.set_default_client(previous)


def test_set_default_client_replaces_and_resets_the_default(
    hub: StandInHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PUSHLOG_DSN", raising=False)
    mine = Client(hub.dsn, linger=0.0)
    previous = pushlog.set_default_client(mine)
    try:
        assert pushlog.get_default_client() is mine
        event_id = pushlog.notify("through my client")
        assert event_id is not None and pushlog.flush(5)
        assert [e["id"] for e in hub.accepted_events()] == [event_id]
        assert pushlog.set_default_client(None) is mine and not mine.closed  # handed back, not closed
        fresh = pushlog.get_default_client()  # made again from the (now empty) environment
        assert fresh is not mine and fresh.inert
    finally:
        pushlog.set_default_client(previous)
        mine.close()


def test_log_notify_critical_levels_fields_and_ids(hub: StandInHub, default_client: Client) -> None:
    ids = [
        pushlog.log("Deployed", body="commit abc in 41s", env="prod", tags=["deploy"]),
        pushlog.notify("€29 payment", body="Pro plan · annual", user_id=42, channel="billing"),
        pushlog.critical("Payments failing", body="gateway 502", link="https://status.example.com"),
    ]
    assert pushlog.flush(timeout=5) is True
    events = sorted(hub.accepted_events(), key=lambda e: e["ts"])
    assert [e["id"] for e in events] == ids
    assert [(e["level"], e["push"]) for e in events] == [
        ("info", False),
        ("warning", True),
        ("critical", True),
    ]
    assert events[0]["metadata"] == {"env": "prod"} and events[0]["tags"] == ["deploy"]
    assert events[1]["metadata"] == {"user_id": 42} and events[1]["channel"] == "billing"
    assert events[2]["link"] == "https://status.example.com" and events[2]["body"] == "gateway 502"
    assert events[0]["source"]["logger"] == __name__
    assert events[0]["source"]["module"].startswith("test_client:")


def test_explicit_calls_dedup_only_identical_events(hub: StandInHub, default_client: Client) -> None:
    a = pushlog.notify("€29 payment", user_id=1)
    b = pushlog.notify("€29 payment", user_id=2)
    c = pushlog.notify("€29 payment", user_id=1)  # identical to a: counted, returns a's id
    assert a != b and c == a
    assert pushlog.flush(5)
    assert sorted((e["metadata"]["user_id"], e["count"]) for e in hub.accepted_events()) == [
        (1, 1),
        (1, 1),
        (2, 1),
    ]


def test_flush_is_bounded_and_close_idempotent(hub: StandInHub) -> None:
    hub.script.append(hub.hang)
    client = Client(hub.dsn, linger=0.0, timeout=60, flush_timeout=0.2)
    client.capture(Event(title="stuck", level=Level.ERROR))
    assert hub.parked.wait(10)  # the POST is at the hub: it cannot leak into the next test's hub
    assert client.flush() is False
    assert client.close() is False
    assert client.close() is True  # second close: no-op
    assert client.capture(Event(title="after close", level=Level.ERROR)) is None
    hub.release.set()
    hub.wait_for(lambda: len(hub.requests) == 1)  # the parked POST ends here, not in the next test


def test_flush_without_anything_queued_is_true(hub: StandInHub) -> None:
    client = Client(hub.dsn)
    assert client.flush(1) is True
    assert client.worker_ident is None  # nothing to send: no thread started
    client.close()


def test_process_that_logs_and_exits_delivers(hub: StandInHub) -> None:
    result = run_python(
        """
        import logging, pushlog
        logging.basicConfig(level=logging.INFO, handlers=[pushlog.PushHandler(linger=60)])
        logging.getLogger("job").info("nightly job done")
        logging.getLogger("job").error("one failure")
        """,
        dsn=hub.dsn,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(e["title"] for e in hub.accepted_events()) == ["nightly job done", "one failure"]


def test_exit_while_hub_hangs_is_bounded_by_flush_timeout(hub: StandInHub) -> None:
    hub.script.append(hub.hang)
    result = run_python(
        """
        import atexit, time
        t = {}
        # registered before logging is imported, so it runs after pushlog's hook and logging.shutdown
        atexit.register(lambda: print(round(time.monotonic() - t["start"], 3)))
        import logging, pushlog
        logging.getLogger().addHandler(pushlog.PushHandler(flush_timeout="0.5", timeout=60, linger=0))
        t["start"] = time.monotonic()  # after the handler: making it loads httpx, which is not exit time
        logging.getLogger("job").error("the hub never answers this")
        """,
        dsn=hub.dsn,
    )
    hub.release.set()
    assert result.returncode == 0, result.stderr
    # the atexit flush gave up after its bound; logging.shutdown's flush and close did not wait again
    assert float(result.stdout) < 0.5 + 0.4


def test_fork_child_gets_fresh_state_and_nothing_twice(hub: StandInHub) -> None:
    result = run_python(
        """
        import os, pushlog
        from pushlog import Client, Event
        client = Client(linger=60)
        client.capture(Event(title="parent before fork"))
        assert client.flush(10)
        client.capture(Event(title="parent backlog"))   # queued, lingering, not yet sent
        pid = os.fork()
        if pid == 0:
            client.capture(Event(title="from child"))
            ok = client.flush(10)
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert client.flush(10)
        print(os.getpid(), pid)
        """,
        dsn=hub.dsn,
    )
    assert result.returncode == 0, result.stderr
    parent_pid, child_pid = map(int, result.stdout.split())
    events = hub.accepted_events()
    titles = sorted((e["title"], e["source"]["pid"]) for e in events)
    assert titles == [
        ("from child", child_pid),
        ("parent backlog", parent_pid),
        ("parent before fork", parent_pid),
    ]
    assert len({e["id"] for e in events}) == 3


def test_second_dictconfig_while_hub_hangs_returns_within_flush_bound(hub: StandInHub) -> None:
    hub.script.append(hub.hang)
    result = run_python(
        """
        import logging, logging.config, time
        config = {
            "version": 1,
            "handlers": {"push": {"class": "pushlog.PushHandler", "level": "INFO",
                                  "flush_timeout": "0.5", "timeout": "60", "linger": "0"}},
            "root": {"handlers": ["push"], "level": "DEBUG"},
        }
        logging.config.dictConfig(config)
        logging.getLogger("app").error("hub will hang on this")
        logging.getLogger("app").info("and this stays queued")
        start = time.monotonic()
        logging.config.dictConfig(config)
        print(round(time.monotonic() - start, 3))
        """,
        dsn=hub.dsn,
    )
    hub.release.set()
    assert result.returncode == 0, result.stderr
    # flush (0.5 s) and close run under logging's lock; close must not wait a second time
    assert float(result.stdout) < 0.5 + 0.4


def test_inert_without_dsn_says_so_once() -> None:
    result = run_python(
        """
        import logging, pushlog
        h1 = pushlog.PushHandler(); h2 = pushlog.PushHandler(level="ERROR", dedup_window=1)
        logging.getLogger().addHandler(h1); logging.getLogger().addHandler(h2)
        logging.getLogger("app").error("nobody hears this")
        print(pushlog.notify("nor this"), pushlog.flush(), h1.client.worker_ident)
        """,
        dsn=None,
    )
    assert result.returncode == 0
    assert result.stdout.split() == ["None", "True", "None"]
    notes = [line for line in result.stderr.splitlines() if line.startswith("pushlog:")]
    assert notes == [
        "pushlog: PUSHLOG_DSN is not set; pushlog is inert and sends nothing "
        "(set PUSHLOG_DSN=http(s)://<publish-key>@<host>[:port] to enable it)"
    ]


def test_malformed_env_dsn_is_inert_with_a_note() -> None:
    result = run_python(
        """
        import logging, pushlog
        logging.getLogger().addHandler(pushlog.PushHandler())
        logging.getLogger("app").error("still fine")
        print("ok")
        """,
        dsn="ftp://nope",
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok"
    assert "pushlog: PUSHLOG_DSN must start with http:// or https://; pushlog is inert" in result.stderr


# ---- never silent at exit --------------------------------------------------------------------------
@pytest.fixture
def hanging_dsn() -> Iterator[str]:
    """A DSN whose hub accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://pl_publish_testkey@127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in accepted:
        conn.close()


@pytest.fixture
def closed_dsn() -> str:
    """A DSN whose port nothing listens on (connections are refused)."""
    return f"http://pl_publish_testkey@127.0.0.1:{free_port()}"


_LOG_30 = """
    import logging, pushlog
    logging.basicConfig(level=logging.INFO, handlers=[pushlog.PushHandler({options})])
    log = logging.getLogger("job")
    for i in range(10):
        log.error("failure %d", i, extra={{"n": i}})
    for i in range(20):
        log.info("progress %d", i, extra={{"n": i}})
"""


def _notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("pushlog:")]


def test_exit_with_a_hanging_hub_says_what_was_not_delivered(hanging_dsn: str) -> None:
    result = run_python(_LOG_30.format(options='flush_timeout="0.3", dedup_window=0'), dsn=hanging_dsn)
    assert result.returncode == 0, result.stderr
    assert _notes(result.stderr) == [
        "pushlog: 30 event(s) not delivered (10 error, 20 info): no answer within the flush bound (0.3s); "
        "set spool= to keep undelivered events for the next start"
    ]


def test_exit_with_nothing_listening_says_connection_refused(closed_dsn: str) -> None:
    result = run_python(_LOG_30.format(options="dedup_window=0"), dsn=closed_dsn)
    assert result.returncode == 0, result.stderr
    assert _notes(result.stderr) == [
        "pushlog: 30 event(s) not delivered (10 error, 20 info): connection refused; "
        "set spool= to keep undelivered events for the next start"
    ]


def _exit_lines(hub: StandInHub, script: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Log one ERROR per scripted answer (``"400"``: refused and dropped; ``"503"``: told to retry in
    an hour, so still unsent), flushing after each, then close: the ``pushlog:`` lines on stderr."""
    answers = {"400": hub.status(400), "503": hub.status(503, {"Retry-After": "3600"})}
    hub.script += [answers[code] for code in script]
    client = Client(hub.dsn, linger=0.0, batch_size=1, dedup_window=0, flush_timeout=2)
    try:
        for i, _ in enumerate(script):
            client.capture(Event(title=f"failure {i}", level=Level.ERROR))
            assert client.flush() is False
    finally:
        client.close()
    return [line for line in _notes(capsys.readouterr().err) if "hub refused" not in line]


def test_exit_with_only_earlier_drops_says_they_were_dropped(
    hub: StandInHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_lines(hub, ["400"], capsys) == ["pushlog: 1 event(s) dropped earlier (hub answered 400)"]


def test_exit_with_unsent_events_and_earlier_drops_says_both(
    hub: StandInHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_lines(hub, ["400", "503"], capsys) == [
        "pushlog: 1 event(s) not delivered (1 error): hub answered 503; 1 more dropped before "
        "(hub answered 400); set spool= to keep undelivered events for the next start"
    ]


def test_exit_with_unsent_events_only_says_what_was_not_delivered(
    hub: StandInHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_lines(hub, ["503"], capsys) == [
        "pushlog: 1 event(s) not delivered (1 error): hub answered 503; "
        "set spool= to keep undelivered events for the next start"
    ]


def test_spool_keeps_everything_unsent_at_exit_and_the_next_process_sends_it_once(
    closed_dsn: str, hub: StandInHub, tmp_path: Path
) -> None:
    spool = tmp_path / "spool.db"
    first = run_python(_LOG_30.format(options=f"dedup_window=0, spool={str(spool)!r}"), dsn=closed_dsn)
    assert first.returncode == 0, first.stderr
    assert _notes(first.stderr) == [
        f"pushlog: 30 event(s) not delivered (10 error, 20 info): connection refused; kept in the spool "
        f"{spool}; the next process that opens it sends them"
    ]
    assert stat.S_IMODE(spool.stat().st_mode) == 0o600

    second = run_python(
        f"""
        import pushlog
        client = pushlog.Client(spool={str(spool)!r})
        print(client.flush(10))
        """,
        dsn=hub.dsn,
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["True"] and _notes(second.stderr) == []
    titles = sorted(e["title"] for e in hub.accepted_events())
    assert titles == sorted([*(f"failure {i}" for i in range(10)), *(f"progress {i}" for i in range(20))])
    assert len(hub.seen_ids) == 30 and len(hub.accepted_events()) == 30  # each exactly once
    assert sum(r["json"]["client"].get("recovered", 0) for r in hub.requests) == 30


def test_drops_of_a_process_that_never_reached_the_hub_reach_it_through_the_spool(
    closed_dsn: str, hub: StandInHub, tmp_path: Path
) -> None:
    """Every event of the first process is either delivered by the second or reported by it as dropped.

    The queue holds one event and the worker moves events to the spool as they come, so which events
    are dropped is a race; a burst of 2,000 captures takes microseconds each, far faster than the
    spool writes, so some are always dropped, and the accounting must add up whichever they are."""
    spool = tmp_path / "spool.db"
    first = Client(closed_dsn, spool=str(spool), queue_size=1, linger=3600, dedup_window=0)
    sent = 2000
    for n in range(sent):
        first.capture(Event(title=f"event {n}"))
    first.close(0)
    assert first.queue.dropped == 0  # handed to the spool, not forgotten

    second = Client(hub.dsn, spool=str(spool), linger=0.0)
    try:
        assert second.flush(10)
    finally:
        second.close()
    delivered = len(hub.accepted_events())
    reported = sum(r["json"]["client"].get("dropped", 0) for r in hub.requests)
    assert delivered >= 1 and reported >= 1
    assert delivered + reported == sent


def test_exit_does_not_wait_again_after_a_flush_found_the_hub_unresponsive(
    hanging_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(hanging_dsn, linger=0.0, timeout=60, flush_timeout=30)
    replaced = Client(hanging_dsn, linger=0.0, timeout=60, flush_timeout=30)  # a second dictConfig
    waits: list[float | None] = []
    flush = Client.flush

    def spy(self: Client, timeout: float | None = None) -> bool:
        waits.append(timeout)
        return flush(self, timeout)

    client.capture(Event(title="never answered", level=Level.ERROR))
    wait_until(lambda: client._worker is not None and client._worker.posting, timeout=10, what="a POST")
    assert client.flush(0.2) is False
    replaced.capture(Event(title="queued behind an unresponsive hub", level=Level.ERROR))
    monkeypatch.setattr(Client, "flush", spy)
    close_all()  # what the exit hook runs
    assert client.closed and replaced.closed
    assert waits == [0.0, 0.0]  # the bound was spent once already: neither waits at exit


def test_closed_client_after_exit_hook_is_not_flushed_again_by_logging_shutdown(closed_dsn: str) -> None:
    result = run_python(
        """
        import logging, pushlog
        handler = pushlog.PushHandler(dedup_window=0)
        logging.getLogger().addHandler(handler)
        logging.getLogger("job").error("refused")
        pushlog._client.close_all()
        print(handler.client.closed, handler.client.flush(30))
        """,
        dsn=closed_dsn,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]
    assert len(_notes(result.stderr)) == 1


# ---- SIGTERM -------------------------------------------------------------------------------------
def _start_python(code: str, *, dsn: str) -> subprocess.Popen[str]:
    """Run ``code``, then print "ready" and sleep until a signal comes."""
    env = {k: v for k, v in os.environ.items() if k != "PUSHLOG_DSN"}
    env["PUSHLOG_DSN"] = dsn
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code) + textwrap.dedent(_WAIT_FOR_SIGTERM)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


_WAIT_FOR_SIGTERM = """
    import time
    print("ready", flush=True)
    time.sleep(60)
"""


def test_sigterm_opt_in_flushes_like_a_normal_exit(hub: StandInHub) -> None:
    proc = _start_python(
        """
        import logging, pushlog
        handler = pushlog.PushHandler(flush_on_sigterm=True, linger=60, dedup_window=0)
        logging.basicConfig(level=logging.INFO, handlers=[handler])
        for i in range(5):
            logging.getLogger("svc").info("lingering %d", i, extra={"n": i})
        """,
        dsn=hub.dsn,
    )
    proc.terminate()
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM, err  # then ended by SIGTERM, as without pushlog
    assert sorted(e["title"] for e in hub.accepted_events()) == [f"lingering {i}" for i in range(5)]


def test_sigterm_opt_in_chains_to_the_handler_installed_before(hub: StandInHub) -> None:
    proc = _start_python(
        """
        import logging, signal, sys, pushlog
        def app_handler(signum, frame):
            print("app handler ran", flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, app_handler)
        handler = pushlog.PushHandler(flush_on_sigterm=True, linger=60, dedup_window=0)
        logging.basicConfig(level=logging.INFO, handlers=[handler])
        logging.getLogger("svc").info("lingering")
        """,
        dsn=hub.dsn,
    )
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert out.strip() == "app handler ran"
    assert [e["title"] for e in hub.accepted_events()] == ["lingering"]


def test_sigterm_opt_in_leaves_an_ignored_sigterm_alone() -> None:
    result = run_python(
        """
        import signal, pushlog
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(pushlog.install_sigterm_flush(), signal.getsignal(signal.SIGTERM) is signal.SIG_IGN)
        """,
        dsn=None,
    )
    assert result.stdout.split() == ["False", "True"], result.stderr


def test_with_a_spool_events_reach_disk_while_a_post_hangs_so_sigterm_loses_nothing(
    hanging_dsn: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool.db"
    proc = _start_python(
        f"""
        import logging, pushlog
        handler = pushlog.PushHandler(spool={str(spool)!r}, timeout=60, dedup_window=0)
        logging.basicConfig(level=logging.INFO, handlers=[handler])
        logging.getLogger("svc").error("first: its POST hangs")
        for i in range(20):
            logging.getLogger("svc").info("queued %d", i, extra={{"n": i}})
        """,
        dsn=hanging_dsn,
    )

    def spooled() -> int:
        with contextlib.closing(sqlite3.connect(spool)) as db:
            return int(db.execute("SELECT count(*) FROM spooled_events").fetchone()[0])

    try:
        wait_until(
            lambda: spooled() == 21, timeout=10, what="all 21 events in the spool", retry_on=(sqlite3.Error,)
        )
    finally:
        proc.terminate()  # no opt-in: the default SIGTERM ends the process without any exit hook
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM
    assert spooled() == 21
