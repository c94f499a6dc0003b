"""integrations/flask: the app called through Flask's test client in a fresh process."""

from __future__ import annotations

from tests.conftest import StandInHub
from tests.integrations.recipes import run_python


def test_signup_and_unhandled_error_arrive(hub: StandInHub) -> None:
    out = run_python(
        "flask",
        """
        import pushlog
        from app import app
        client = app.test_client()
        print(client.post("/signup?plan=team").status_code)
        print(client.get("/checkout").status_code)
        print(pushlog.flush(5.0))
        """,
        hub.dsn,
    )
    assert out.split() == ["200", "500", "True"]
    signup, crash = hub.wait_events(2)
    assert (signup["title"], signup["level"], signup["metadata"]) == (
        "New signup",
        "warning",
        {"plan": "team"},
    )
    assert crash["title"] == "Exception on /checkout [GET]"  # Flask's own log line
    assert crash["level"] == "error" and crash["source"]["logger"] == "app"
    assert crash["body"].startswith("RuntimeError: payment gateway timed out\n  at ")
