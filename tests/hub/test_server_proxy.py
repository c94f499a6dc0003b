"""Behind a reverse proxy: whose ``X-Forwarded-For`` the hub believes (``forwarded_allow_ips``).

Failed authentications are throttled per client address (``_auth.client_address``). Behind a proxy
every request comes from the proxy's address, so without trusting it all clients share one bucket;
trusting anyone's ``X-Forwarded-For`` would let a guesser pick a fresh address per request.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.clock import utc_clock

from pushlog.hub.config import HubConfig

WRONG_KEY = "pl_read_" + "x" * 32


def statuses(hub: Any, forwarded_for: list[str]) -> list[int]:
    """One request with an unknown key per entry, each claiming to be forwarded for that address."""
    with hub.client(WRONG_KEY) as guesser:
        return [guesser.get("/v1/events", headers={"X-Forwarded-For": a}).status_code for a in forwarded_for]


def test_a_trusted_proxy_gives_each_client_its_own_auth_failure_bucket(hub_factory: Any) -> None:
    hub = hub_factory(clock=utc_clock(), auth_failures_per_minute=2, forwarded_allow_ips=("127.0.0.1",))
    assert statuses(hub, ["203.0.113.7"] * 3) == [401, 401, 429]
    # Another client behind the same proxy is not throttled for the first one's guesses ...
    assert statuses(hub, ["203.0.113.8"]) == [401]
    # ... and the first one stays throttled, right key or not.
    with hub.client(hub.read_key) as reader:
        assert reader.get("/v1/events", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 429
        assert reader.get("/v1/events", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200


def test_without_a_trusted_proxy_forwarded_headers_do_not_buy_fresh_addresses(hub_factory: Any) -> None:
    hub = hub_factory(clock=utc_clock(), auth_failures_per_minute=2)
    assert statuses(hub, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) == [401, 401, 429]


def test_a_proxy_not_in_the_list_is_not_believed(hub_factory: Any) -> None:
    hub = hub_factory(clock=utc_clock(), auth_failures_per_minute=2, forwarded_allow_ips=("10.0.0.0/8",))
    assert statuses(hub, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) == [401, 401, 429]


@pytest.mark.parametrize("proxies", [("127.0.0.1", "::1"), ("10.0.0.0/8",), ("*",)])
def test_addresses_networks_and_any_are_accepted(proxies: tuple[str, ...]) -> None:
    assert HubConfig(forwarded_allow_ips=proxies).forwarded_allow_ips == proxies


def test_a_name_is_refused_with_what_is_expected() -> None:
    with pytest.raises(ValueError, match=r"'proxy\.local' is not an IP address or network"):
        HubConfig(forwarded_allow_ips=("proxy.local",))
