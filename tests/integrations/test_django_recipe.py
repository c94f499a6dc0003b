"""integrations/django: the LOGGING dict, loaded by django.setup(), pushes a 500 and a warning."""

from __future__ import annotations

from tests.conftest import StandInHub
from tests.integrations.recipes import run_python


def test_logging_dict_pushes_500s_and_app_warnings(hub: StandInHub) -> None:
    out = run_python(
        "django",
        """
        import django, logging, pushlog
        django.setup()
        from django.test import Client
        handler = logging.getLogger("shop").handlers[-1]
        print(type(handler).__name__)
        client = Client(raise_request_exception=False)
        print(client.get("/signup", {"plan": "pro"}).status_code)
        print(client.get("/checkout").status_code)
        print(pushlog.flush(5.0))
        """,
        hub.dsn,
        DJANGO_SETTINGS_MODULE="settings",
    )
    assert out.split() == ["PushHandler", "200", "500", "True"]
    signup, crash = hub.wait_events(2)
    assert (signup["title"], signup["level"], signup["channel"]) == ("New signup", "warning", "signups")
    assert signup["metadata"] == {"plan": "pro"}
    assert crash["title"] == "Internal Server Error: /checkout"
    assert crash["level"] == "error" and crash["push"] is True
    assert crash["body"].startswith("RuntimeError: payment gateway timed out\n  at ")
    assert crash["source"]["logger"] == "django.request"
    assert crash["metadata"]["status_code"] == 500  # django.request's extra= becomes metadata
