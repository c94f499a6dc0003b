"""integrations/lambda: the handler flushes before returning, so events arrive even when the process is
frozen or killed right after (simulated with ``os._exit``, which skips atexit and daemon threads)."""

from __future__ import annotations

from tests.conftest import StandInHub
from tests.integrations.recipes import run_python


def test_events_arrive_although_the_process_dies_right_after(hub: StandInHub) -> None:
    out = run_python(
        "lambda",
        """
        import os, sys, types
        from handler import handler
        context = types.SimpleNamespace(aws_request_id="req-1")
        print(handler({"orders": [{"amount": 20}, {"amount": 9}]}, context)["imported"])
        try:
            handler({"orders": [{"amount": "n/a"}, {}]}, types.SimpleNamespace(aws_request_id="req-2"))
        except Exception as exc:
            print(type(exc).__name__)
        sys.stdout.flush()
        os._exit(0)  # the environment is frozen: no atexit, no more time for pushlog's thread
        """,
        hub.dsn,
    )
    assert out.split() == ["2", "TypeError"]
    imported, failed = hub.accepted_events()
    assert (imported["title"], imported["body"], imported["level"]) == (
        "2 orders imported",
        "total 29",
        "warning",
    )
    assert imported["metadata"] == {"request_id": "req-1"}
    assert (failed["title"], failed["level"], failed["metadata"]) == (
        "Order import failed",
        "error",
        {"request_id": "req-2"},
    )
    assert failed["body"].startswith("TypeError: ")
