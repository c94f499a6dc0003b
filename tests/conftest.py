"""Generic test helpers: a stand-in hub speaking the publish protocol, and the hand-moved clock fixture."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from tests.support.clock import FakeClock
from werkzeug import Request, Response

Responder = Callable[[Request], Response]


class StandInHub:
    """``POST /v1/events`` on a real loopback HTTP server; records every request it receives.

    By default it answers ``202 {"accepted": n, "duplicates": m}`` (duplicates by event id, like the
    hub). ``script`` queues responders for the next requests (e.g. a 503 with Retry-After, a hang).
    """

    def __init__(self, server: HTTPServer, key: str = "pl_publish_testkey") -> None:
        self.server = server
        self.key = key
        self.dsn = f"http://{key}@127.0.0.1:{server.port}"
        self.requests: list[dict[str, Any]] = []  # {"headers":..., "json":..., "status":...}
        self.seen_ids: set[str] = set()
        self.script: list[Responder] = []
        self.release = threading.Event()  # set to free requests parked by `hang`
        self.parked = threading.Event()  # set when `hang` has a request parked
        self._cond = threading.Condition()
        server.expect_request("/v1/events", method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        with self._cond:
            responder = self.script.pop(0) if self.script else self.accept
        response = responder(request)
        with self._cond:
            self.requests.append(
                {
                    "headers": dict(request.headers),
                    "json": request.get_json(),
                    "status": response.status_code,
                    "at": time.monotonic(),
                }
            )
            self._cond.notify_all()
        return response

    def accept(self, request: Request) -> Response:
        events = request.get_json()["events"]
        with self._cond:
            fresh = [e for e in events if e["id"] not in self.seen_ids]
            self.seen_ids.update(e["id"] for e in events)
        body = {"accepted": len(fresh), "duplicates": len(events) - len(fresh)}
        return Response(json.dumps(body), 202, content_type="application/json")

    @staticmethod
    def status(code: int, headers: dict[str, str] | None = None) -> Responder:
        def respond(request: Request) -> Response:
            body = {"error": {"code": f"status_{code}", "message": f"stand-in says {code}"}}
            return Response(json.dumps(body), code, headers=headers, content_type="application/json")

        return respond

    def hang(self, request: Request) -> Response:
        self.parked.set()
        self.release.wait(30)
        return self.accept(request)

    # ---- what arrived -------------------------------------------------------------------------
    def accepted_events(self) -> list[dict[str, Any]]:
        with self._cond:
            return [e for r in self.requests if r["status"] == 202 for e in r["json"]["events"]]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"condition not met within {timeout}s; requests: {self.requests}")
                self._cond.wait(remaining)

    def wait_events(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        self.wait_for(lambda: len(self._accepted_locked()) >= n, timeout)
        return self.accepted_events()

    def _accepted_locked(self) -> list[dict[str, Any]]:
        return [e for r in self.requests if r["status"] == 202 for e in r["json"]["events"]]


@pytest.fixture
def hub(httpserver: HTTPServer) -> Iterator[StandInHub]:
    stand_in = StandInHub(httpserver)
    yield stand_in
    stand_in.release.set()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
