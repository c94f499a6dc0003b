"""``/metrics`` (Prometheus text, parsed with prometheus_client's own parser), its protection, and
``/readyz`` (database reachable, schema at the newest migration)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from tests.hub.delivery.outbox_support import FakeSender
from tests.support.hub_server import ThreadHub, publish, wait_until

from pushlog.cli import main
from pushlog.hub.config import HubConfig
from pushlog.hub.delivery._base import Outcome, SendResult
from pushlog.hub.store._engine import head_revision

P256DH = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"


def _samples(hub: ThreadHub, key: str | None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with hub.client(key) as client:
        response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _register_phone(hub: ThreadHub) -> None:
    device = {
        "kind": "webpush",
        "subscription": {
            "endpoint": "http://127.0.0.1:9/push/1",
            "keys": {"p256dh": P256DH, "auth": "BTBZMqHH6r4Tts7J_aSIgg"},
        },
    }
    with hub.client(hub.read_key) as client:
        assert client.post("/v1/devices", json=device).status_code == 201


def test_metrics_count_ingest_deliveries_streams_and_queue(hub_factory: Callable[..., ThreadHub]) -> None:
    retry = SendResult(outcome=Outcome.RETRY, status=503, retry_after=3600)
    sender = FakeSender(script=[retry])
    hub = hub_factory(allow_private_endpoints=True, senders={"webpush": sender})
    _register_phone(hub)
    publish(hub, {"title": "queued", "level": "warning"}, {"title": "feed", "level": "info"})
    wait_until(lambda: sender.sent, timeout=10, what="the push attempt")

    def retried() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        found = _samples(hub, hub.admin_key)
        return found if found.get(("pushlog_deliveries_total", attempt)) == 1 else None

    attempt = (("status", "retry"), ("transport", "webpush"))
    samples = wait_until(retried, timeout=10, what="the retry to be counted")
    assert samples[("pushlog_events_ingested_total", (("level", "warning"),))] == 1
    assert samples[("pushlog_events_ingested_total", (("level", "info"),))] == 1
    assert samples[("pushlog_events_ingested_total", (("level", "critical"),))] == 0
    assert samples[("pushlog_ingest_commit_seconds_count", ())] >= 1
    assert samples[("pushlog_push_send_seconds_count", (("transport", "webpush"),))] == 1
    assert samples[("pushlog_outbox_queued", ())] == 1  # the retry waits an hour
    assert samples[("pushlog_streams", ())] == 0

    opened = threading.Event()
    release = threading.Event()

    def follow() -> None:
        with (
            hub.client(hub.read_key, timeout=30) as client,
            client.stream("GET", "/v1/stream") as response,
        ):
            for _line in response.iter_lines():
                opened.set()
                if release.is_set():
                    break

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    assert opened.wait(10)
    assert _samples(hub, hub.admin_key)[("pushlog_streams", ())] == 1
    release.set()
    publish(hub, {"title": "end the stream's wait", "level": "info"})
    reader.join(10)
    assert not reader.is_alive()
    wait_until(
        lambda: _samples(hub, hub.admin_key)[("pushlog_streams", ())] == 0, timeout=10, what="stream closed"
    )


def test_metrics_need_an_admin_key_unless_public_on_loopback(hub_factory: Callable[..., ThreadHub]) -> None:
    hub = hub_factory()
    with hub.client() as anonymous, hub.client(hub.read_key) as reader:
        assert anonymous.get("/metrics").status_code == 401
        assert reader.get("/metrics").status_code == 403
    public = hub_factory(metrics_public=True)
    assert ("pushlog_streams", ()) in _samples(public, None)


def test_metrics_public_is_refused_off_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="loopback"):
        HubConfig(host="0.0.0.0", metrics_public=True)
    assert main(["serve", "--host", "0.0.0.0", "--metrics-public"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_workers_are_refused_with_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "2"]) == 2
    assert "--workers needs PostgreSQL" in capsys.readouterr().err
    assert main(["serve", "--workers", "0", "--db", "postgresql+psycopg://u@127.0.0.1:1/x"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_readyz(hub: ThreadHub) -> None:
    with hub.client() as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "revision": head_revision()}

        state = hub.app.state.hub
        engine = state.engine
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
        behind = client.get("/readyz")
        assert behind.status_code == 503
        assert behind.headers["retry-after"]
        assert behind.json()["error"]["code"] == "not_ready"
        assert "0001" in behind.json()["error"]["message"]
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": head_revision()})

        unreachable = sa.create_engine("sqlite:////proc/version/no.db")  # cannot be opened
        state.engine = unreachable
        try:
            gone = client.get("/readyz")
        finally:
            state.engine = engine
            unreachable.dispose()
        assert gone.status_code == 503
        assert "database unreachable" in gone.json()["error"]["message"]
        assert client.get("/readyz").status_code == 200
        assert client.get("/healthz").json() == {"ok": True}


def test_metrics_and_readyz_answer_over_plain_http(hub: ThreadHub) -> None:
    assert httpx.get(f"{hub.base_url}/readyz", timeout=5).status_code == 200
