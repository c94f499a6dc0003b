"""integrations/celery: a real Celery worker (celery.contrib.testing, in-memory broker) runs a failing
task; the task_failure signal turns it into exactly one push, successful tasks into none."""

from __future__ import annotations

from tests.conftest import StandInHub
from tests.integrations.recipes import run_python


def test_task_failure_becomes_one_push(hub: StandInHub) -> None:
    out = run_python(
        "celery",
        """
        import pushlog
        from celery.contrib.testing.worker import start_worker
        from tasks import app, add, charge

        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            print(add.delay(2, 3).get(timeout=20))
            failed = charge.delay(7)
            failed.get(timeout=20, propagate=False)
            print(failed.state, failed.id)
        print(pushlog.flush(5.0))
        """,
        hub.dsn,
    )
    total, state, task_id, flushed = out.split()
    assert (total, state, flushed) == ("5", "FAILURE", "True")
    (event,) = hub.wait_events(1)
    assert event["title"] == "Task tasks.charge failed"
    assert (event["level"], event["channel"]) == ("error", "tasks")
    assert event["metadata"] == {"task": "tasks.charge", "task_id": task_id}
    assert event["body"].startswith("RuntimeError: card declined for order 7\n  at ")
    assert event["source"]["logger"] == "tasks.failures"


def test_eager_mode_fires_the_same_signal(hub: StandInHub) -> None:
    out = run_python(
        "celery",
        """
        import pushlog
        from tasks import app, charge
        app.conf.task_always_eager = True
        result = charge.delay(8)
        print(result.state)
        print(pushlog.flush(5.0))
        """,
        hub.dsn,
    )
    assert out.split() == ["FAILURE", "True"]
    (event,) = hub.wait_events(1)
    assert event["body"].startswith("RuntimeError: card declined for order 8")
