"""Property-based fuzzing of the running hub from its own ``/openapi.json`` (schemathesis).

Every operation, with each kind of key (publish, read, admin): no answer is a 5xx, every answer
matches the document (status, content type, schema), and the hub still serves a normal request
afterwards. Bounded by ``MAX_EXAMPLES`` per operation and key so it stays well inside CI's time;
``PUSHLOG_FUZZ_EXAMPLES`` raises it for a longer local run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance
from tests.support.hub_server import ThreadHub, start_hub_thread

from pushlog.hub._openapi import openapi_spec

MAX_EXAMPLES = int(os.environ.get("PUSHLOG_FUZZ_EXAMPLES", "15"))
#: ``PUSHLOG_FUZZ_COVERAGE=1`` adds schemathesis' explicit edge cases (boundaries, wrong types) per operation.
PHASES = [hypothesis.Phase.generate]
if os.environ.get("PUSHLOG_FUZZ_COVERAGE"):
    PHASES.insert(0, hypothesis.Phase.explicit)
#: Requests sent and 5xx answers seen (the last test prints them for a long local run).
SENT = {"requests": 0, "5xx": 0}
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
SCOPES = ("publish", "read", "admin", "users")


@pytest.fixture(scope="module")
def fuzzed_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadHub]:
    data_dir: Path = tmp_path_factory.mktemp("fuzzed-hub")
    running = start_hub_thread(
        data_dir, allow_private_endpoints=True, rate_limit_per_second=1_000_000, rate_limit_burst=1_000_000
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def scoped_keys(fuzzed_hub: ThreadHub) -> dict[str, str]:
    """A secret per scope: the hub's bootstrap keys and a users key made for the run."""
    with fuzzed_hub.client(fuzzed_hub.admin_key) as admin:
        made = admin.post("/v1/keys", json={"name": "fuzz app backend", "scope": "users"})
    assert made.status_code == 201, made.text
    return {
        "publish": fuzzed_hub.publish_key,
        "read": fuzzed_hub.read_key,
        "admin": fuzzed_hub.admin_key,
        "users": made.json()["secret"],
    }


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as keep_alive:  # one connection: a 5xx that closed it would show
        yield keep_alive


#: The document the hub serves (the first test checks the running hub serves exactly this one).
DOCUMENT = openapi_spec(server_url="http://127.0.0.1")
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_running_hub_serves_the_document(fuzzed_hub: ThreadHub, session: requests.Session) -> None:
    served = session.get(f"{fuzzed_hub.base_url}/openapi.json", timeout=10).json()
    assert {**served, "servers": DOCUMENT["servers"]} == DOCUMENT


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=PHASES,
)
def test_no_5xx_and_answers_match_the_document(
    case: Any, fuzzed_hub: ThreadHub, scoped_keys: dict[str, str], session: requests.Session
) -> None:
    """Each generated request is sent with each kind of key (and checked each time)."""
    if case.path == "/v1/keys/{key_id}" and case.method.upper() == "DELETE":
        # never revoke the keys the fuzz run itself uses
        case.path_parameters = {"key_id": "fuzz-" + str(case.path_parameters.get("key_id", ""))[:40]}
    for scope in SCOPES:
        headers = {"Authorization": f"Bearer {scoped_keys[scope]}"}
        if case.path == "/v1/stream":  # an endless body: judge the status line, then hang up
            with requests.get(
                f"{fuzzed_hub.base_url}/v1/stream",
                params=case.query,
                headers={**(case.headers or {}), **headers},
                stream=True,
                timeout=10,
            ) as response:
                SENT["requests"] += 1
                SENT["5xx"] += response.status_code >= 500
                assert response.status_code < 500, response.text
                assert response.headers["content-type"].split(";")[0] in (
                    "text/event-stream",
                    "application/json",
                )
            continue
        SENT["requests"] += 1
        response = case.call(base_url=fuzzed_hub.base_url, session=session, headers=headers, timeout=10)
        SENT["5xx"] += response.status_code >= 500
        case.validate_response(response, checks=CHECKS)


def test_the_hub_still_serves_after_the_fuzz_run(fuzzed_hub: ThreadHub, session: requests.Session) -> None:
    print(f"fuzz: {SENT['requests']} requests, {SENT['5xx']} answered 5xx")
    answer = session.post(
        f"{fuzzed_hub.base_url}/v1/events",
        json={"events": [{"title": "after the fuzz"}]},
        headers={"Authorization": f"Bearer {fuzzed_hub.publish_key}"},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    page = session.get(
        f"{fuzzed_hub.base_url}/v1/events",
        params={"q": "after the fuzz"},
        headers={"Authorization": f"Bearer {fuzzed_hub.read_key}"},
        timeout=10,
    )
    assert [e["title"] for e in page.json()["events"]] == ["after the fuzz"]
