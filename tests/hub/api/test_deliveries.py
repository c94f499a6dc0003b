"""Receipts from the service worker and acknowledgement by receipt token."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from tests.support.devices import AUTH, P256DH
from tests.support.hub_server import ThreadHub

from pushlog.hub.receipts import make_token


def receipt_secret(hub: ThreadHub) -> str:
    connection = sqlite3.connect(hub.data_dir / "pushlog.db")
    try:
        (value,) = connection.execute("SELECT value FROM settings WHERE key = 'receipt_secret'").fetchone()
    finally:
        connection.close()
    return str(value)


def pushed_event(hub: ThreadHub, level: str = "warning") -> tuple[str, dict[str, Any]]:
    with hub.client(hub.read_key) as client:
        client.post(
            "/v1/devices",
            json={
                "subscription": {
                    "endpoint": f"http://127.0.0.1:9/push/{uuid.uuid4()}",
                    "keys": {"p256dh": P256DH, "auth": AUTH},
                }
            },
        ).raise_for_status()
    event_id = str(uuid.uuid4())
    with hub.client(hub.publish_key) as client:
        client.post("/v1/events", json={"events": [{"id": event_id, "title": "t", "level": level}]})
    with hub.client(hub.read_key) as client:
        [delivery] = client.get(f"/v1/events/{event_id}/deliveries").json()["deliveries"]
    return event_id, delivery


def test_receipts_need_the_right_token_and_move_status_forward(hub: ThreadHub) -> None:
    _event_id, delivery = pushed_event(hub)
    token = make_token(receipt_secret(hub), delivery["id"])
    path = f"/v1/deliveries/{delivery['id']}/receipt"
    with hub.client() as client:
        forged = client.post(path, json={"token": make_token("wrong", delivery["id"]), "status": "delivered"})
        assert forged.status_code == 401
        assert client.post(path, json={"token": token, "status": "read"}).status_code == 422
        other = client.post("/v1/deliveries/dl_none/receipt", json={"token": token, "status": "delivered"})
        assert other.status_code == 401  # the token is bound to its delivery id
        opened = client.post(path, json={"token": token, "status": "opened"})
        assert opened.status_code == 200
        assert opened.json()["status"] == "opened"
        assert opened.json()["delivered_at"] and opened.json()["opened_at"]
        late = client.post(path, json={"token": token, "status": "delivered"})
        assert late.json()["status"] == "opened"  # never backwards
        assert [h["status"] for h in late.json()["history"]][-2:] == ["delivered", "opened"]


def test_ack_with_a_receipt_token_stops_everything(hub: ThreadHub) -> None:
    event_id, delivery = pushed_event(hub, level="critical")
    secret = receipt_secret(hub)
    with hub.client() as client:
        bad = client.post(f"/v1/events/{event_id}/ack", json={"token": make_token(secret, "dl_other")})
        assert bad.status_code == 401
        assert client.post(f"/v1/events/{event_id}/ack").status_code == 401  # no key, no token
        good = client.post(f"/v1/events/{event_id}/ack", json={"token": make_token(secret, delivery["id"])})
        assert good.status_code == 200
        assert good.json()["acknowledged_by"] == f"device:{delivery['id']}"
    with hub.client(hub.read_key) as client:
        [row] = client.get(f"/v1/events/{event_id}/deliveries").json()["deliveries"]
    assert row["status"] == "acknowledged"
    connection = sqlite3.connect(hub.data_dir / "pushlog.db")
    try:
        (next_at,) = connection.execute(
            "SELECT repeat_next_at FROM events WHERE id = ?", (event_id,)
        ).fetchone()
    finally:
        connection.close()
    assert next_at is None
