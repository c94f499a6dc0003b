"""The hub's device upkeep on its injected clock: app users' devices not seen for the inactivity age are
removed (a refresh keeps one; team devices stay), and devices stored in plaintext by an older hub are
sealed when it starts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from tests.support.clock import FakeClock
from tests.support.devices import AUTH, P256DH, subscription
from tests.support.hub_server import ThreadHub, wait_until

from pushlog.hub.config import DB_FILE
from pushlog.hub.store import create_engine
from pushlog.hub.store._tables import devices
from pushlog.hub.store.device_tokens import KEY_FILE, load_vault

DAY = 86400.0


def _register(hub: ThreadHub, endpoint: str, key: str | None = None, **fields: Any) -> str:
    with hub.client(key or hub.read_key) as client:
        answer = client.post("/v1/devices", json={"subscription": subscription(endpoint), **fields})
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["id"])


def _listed(hub: ThreadHub) -> list[dict[str, Any]]:
    with hub.client(hub.admin_key) as client:
        team = client.get("/v1/devices").json()["devices"]
        users = client.get("/v1/users/u1/devices").json()["devices"]
    return [*team, *users]


def _users_key(hub: ThreadHub) -> str:
    with hub.client(hub.admin_key) as admin:
        return str(admin.post("/v1/keys", json={"name": "app", "scope": "users"}).json()["secret"])


def _pass(hub: ThreadHub) -> None:
    task: Any = hub.app.state.device_upkeep
    done = task.passes
    task.request_pass()
    wait_until(lambda: task.passes > done, timeout=10, what="a device upkeep pass")


def test_inactive_devices_are_pruned_on_the_hubs_clock(hub_factory: Callable[..., ThreadHub]) -> None:
    clock = FakeClock()
    hub = hub_factory(clock=clock.as_utc(), allow_private_endpoints=True, device_inactive_days=30)
    app = _users_key(hub)
    stale = _register(hub, "http://127.0.0.1:9/stale", app, user_id="u1")
    kept = _register(hub, "http://127.0.0.1:9/kept", app, user_id="u1")
    team = _register(hub, "http://127.0.0.1:9/team")  # team devices are not pruned for age
    clock.advance(20 * DAY)
    assert _register(hub, "http://127.0.0.1:9/kept", app, user_id="u1") == kept  # a refresh: seen again
    clock.advance(15 * DAY)  # stale unseen for 35 days, kept for 15
    _pass(hub)
    assert {d["id"] for d in _listed(hub)} == {kept, team}
    assert stale != kept


def test_devices_stay_when_pruning_is_off(hub_factory: Callable[..., ThreadHub]) -> None:
    clock = FakeClock()
    hub = hub_factory(clock=clock.as_utc(), allow_private_endpoints=True, device_inactive_days=None)
    device = _register(hub, "http://127.0.0.1:9/1", _users_key(hub), user_id="u1")
    clock.advance(3650 * DAY)
    _pass(hub)
    assert [d["id"] for d in _listed(hub)] == [device]


def test_a_hub_seals_plaintext_devices_from_before_encryption_when_it_starts(
    hub_factory: Callable[..., ThreadHub], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    hub_factory(data_dir=data_dir).stop()
    engine = create_engine(f"sqlite:///{data_dir / DB_FILE}")
    try:
        with engine.begin() as conn:  # as a hub before migration 0009 stored a subscription
            now = sa.func.current_timestamp()
            conn.execute(
                devices.insert().values(
                    id="dev_plain",
                    kind="webpush",
                    endpoint="http://127.0.0.1:9/old",
                    p256dh=P256DH,
                    auth=AUTH,
                    min_level=30,
                    created_at=now,
                    updated_at=now,
                    last_seen_at=now,
                )
            )
        hub = hub_factory(data_dir=data_dir, allow_private_endpoints=True)
        wait_until(lambda: hub.app.state.device_upkeep.passes >= 1, timeout=10, what="the start pass")
        with engine.connect() as conn:
            row = conn.execute(sa.select(devices)).one()
        assert (data_dir / KEY_FILE).exists()
        prefix = load_vault(data_dir, create=False).current_prefix
        assert all(getattr(row, c).startswith(prefix) for c in ("endpoint", "p256dh", "auth"))
        assert P256DH not in str(tuple(row)) and "127.0.0.1:9/old" not in str(tuple(row))
        assert [d["endpoint"] for d in _listed(hub)] == ["http://127.0.0.1:9/old"]
        assert _register(hub, "http://127.0.0.1:9/old") == "dev_plain"
    finally:
        engine.dispose()
