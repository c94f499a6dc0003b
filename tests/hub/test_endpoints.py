"""validate_endpoint: https only, no loopback/link-local/private/multicast/unspecified targets."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from pushlog.hub._endpoints import EndpointError, validate_endpoint


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> Iterable[str]:
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return resolve


PUBLIC = resolver({"push.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]})


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://push.example.com/x", "https"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://127.9.9.9:8443/x", "loopback"),
        ("https://[::1]/x", "loopback"),
        ("https://10.1.2.3/x", "private"),
        ("https://172.16.0.1/x", "private"),
        ("https://192.168.1.1/x", "private"),
        ("https://[fd00::1]/x", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/x", "link-local"),
        ("https://224.0.0.1/x", "multicast"),
        ("https://0.0.0.0/x", "unspecified"),
        ("https://[::]/x", "unspecified"),
        ("https://[::ffff:127.0.0.1]/x", "loopback"),
        ("https://100.64.0.1/x", "shared"),
        ("https://[2002:7f00:1::1]/x", r"loopback \(6to4 form of 127.0.0.1\)"),
        ("https://[2002:a9fe:a9fe::]/x", r"link-local \(6to4 form of 169.254.169.254\)"),
        ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/x", r"loopback \(Teredo form of 127.0.0.1\)"),
        ("https://[2001:0:4136:e378:8000:63bf:a2a4:2ccb]/x", "private"),  # Teredo itself is not global
        ("https://[64:ff9b::a00:1]/x", r"private \(NAT64 form of 10.0.0.1\)"),
        ("https://[::7f00:1]/x", r"loopback \(IPv4-compatible form of 127.0.0.1\)"),
        ("https://[::ffff:a9fe:a9fe]/x", r"link-local \(IPv4-mapped form of 169.254.169.254\)"),
        ("https://[64:ff9b:1::5db8:d822]/x", "reserved"),
        ("https://192.0.0.8/x", "special-purpose"),
        ("https://198.18.0.1/x", "private"),  # benchmarking
        ("https://240.0.0.1/x", "private|reserved"),
        ("https://255.255.255.255/x", "private|reserved"),
        ("https://[2001:db8::1]/x", "private"),  # documentation
        ("https://localhost/x", "loopback"),
        ("https://user:pw@push.example.com/x", "credentials"),
        ("https:///x", "no host"),
        ("ftp://push.example.com/x", "https"),
    ],
)
def test_refused(url: str, why: str) -> None:
    with pytest.raises(EndpointError, match=why):
        validate_endpoint(url, allow_private=False, resolver=PUBLIC)


@pytest.mark.parametrize(
    "literal",
    [
        "93.184.216.34",
        "[2606:2800:220:1:248:1893:25c8:1946]",
        "[64:ff9b::5db8:d822]",
        "[::ffff:5db8:d822]",
        "[2002:5db8:d822::1]",
    ],
)
def test_global_addresses_and_their_ipv6_forms_pass(literal: str) -> None:
    url = f"https://{literal}/push/abc"
    assert validate_endpoint(url, allow_private=False, resolver=PUBLIC) == url


def test_a_resolved_6to4_address_is_judged_by_its_ipv4() -> None:
    sneaky = resolver({"six.example": ["2002:c0a8:101::1"]})
    with pytest.raises(EndpointError, match=r"private \(6to4 form of 192.168.1.1\)"):
        validate_endpoint("https://six.example/x", allow_private=False, resolver=sneaky)


def test_a_hostname_is_judged_by_every_address_it_resolves_to() -> None:
    sneaky = resolver({"evil.example": ["93.184.216.34", "127.0.0.1"], "inner.example": ["10.0.0.5"]})
    with pytest.raises(EndpointError, match="loopback"):
        validate_endpoint("https://evil.example/x", allow_private=False, resolver=sneaky)
    with pytest.raises(EndpointError, match="private"):
        validate_endpoint("https://inner.example/x", allow_private=False, resolver=sneaky)
    with pytest.raises(EndpointError, match="does not resolve"):
        validate_endpoint("https://nowhere.example/x", allow_private=False, resolver=sneaky)


def test_public_https_endpoints_pass() -> None:
    for url in (
        "https://push.example.com/wpush/v2/abc",
        "https://93.184.216.34:8443/p",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/p",
    ):
        assert validate_endpoint(url, allow_private=False, resolver=PUBLIC) == url


def test_development_flag_allows_loopback_and_http() -> None:
    for url in ("http://127.0.0.1:8080/push/1", "https://[::1]/x", "http://10.0.0.2/x"):
        assert validate_endpoint(url, allow_private=True, resolver=PUBLIC) == url
    with pytest.raises(EndpointError, match="https"):
        validate_endpoint("ftp://127.0.0.1/x", allow_private=True, resolver=PUBLIC)
