"""/v1/devices with kind fcm/apns: refused unless the hub has that transport's credentials; token checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from tests.support.hub_server import ThreadHub

APNS_TOKEN = "ab" * 32


@pytest.fixture
def native_hub(hub_factory: Callable[..., ThreadHub], tmp_path: Path) -> ThreadHub:
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    account = tmp_path / "sa.json"
    account.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "p",
                "private_key_id": "k",
                "private_key": rsa_pem.decode(),
                "client_email": "fcm@p.iam.gserviceaccount.com",
                "token_uri": "http://127.0.0.1:9/token",
            }
        )
    )
    key = tmp_path / "AuthKey.p8"
    key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return hub_factory(
        fcm_credentials=account, apns_key=key, apns_key_id="KEYID12345", apns_team_id="TEAM", apns_topic="app"
    )


@pytest.mark.parametrize("kind", ["fcm", "apns"])
def test_native_kinds_need_the_transports_credentials(hub: ThreadHub, kind: str) -> None:
    with hub.client(hub.read_key) as client:
        answer = client.post("/v1/devices", json={"kind": kind, "token": APNS_TOKEN})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "transport_not_configured"


def test_unknown_kind_is_422(hub: ThreadHub) -> None:
    with hub.client(hub.read_key) as client:
        answer = client.post("/v1/devices", json={"kind": "sms", "token": "x"})
    assert answer.status_code == 422 and "kind" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("kind", "token"),
    [
        ("fcm", None),
        ("fcm", ""),
        ("fcm", " padded "),
        ("fcm", "x" * 5000),
        ("apns", "zz" * 32),
        ("apns", "ab" * 8),
    ],
)
def test_bad_tokens_are_422(native_hub: ThreadHub, kind: str, token: object) -> None:
    with native_hub.client(native_hub.read_key) as client:
        answer = client.post("/v1/devices", json={"kind": kind, "token": token})
    assert answer.status_code == 422, answer.text
    assert "token" in answer.json()["error"]["message"]


def test_register_native_devices_and_list_them_without_tokens(native_hub: ThreadHub) -> None:
    with native_hub.client(native_hub.read_key) as client:
        fcm = client.post(
            "/v1/devices", json={"kind": "fcm", "token": "fcm-token", "preferences": {"min_level": "error"}}
        )
        apns = client.post("/v1/devices", json={"kind": "apns", "token": APNS_TOKEN, "name": "iphone"})
        assert fcm.status_code == 201 and apns.status_code == 201
        assert apns.json()["name"] == "iphone" and fcm.json()["preferences"]["min_level"] == "error"
        listed = client.get("/v1/devices")
    assert {d["kind"] for d in listed.json()["devices"]} == {"fcm", "apns"}
    assert "fcm-token" not in listed.text and APNS_TOKEN not in listed.text


def test_publish_key_cannot_register_native_devices(native_hub: ThreadHub) -> None:
    with native_hub.client(native_hub.publish_key) as client:
        answer = client.post("/v1/devices", json={"kind": "fcm", "token": "fcm-token"})
    assert answer.status_code == 403
