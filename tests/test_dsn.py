import pytest

from pushlog._dsn import DSNError, dsn_from_env, parse_dsn


@pytest.mark.parametrize(
    ("dsn", "key", "base"),
    [
        ("http://pl_publish_abc@localhost:8080", "pl_publish_abc", "http://localhost:8080"),
        ("https://k@hub.example.com/", "k", "https://hub.example.com"),
        ("https://k@hub.example.com/push/", "k", "https://hub.example.com/push"),
        ("http://k%40x@[::1]:9000", "k@x", "http://[::1]:9000"),
    ],
)
def test_parse_dsn(dsn: str, key: str, base: str) -> None:
    parsed = parse_dsn(dsn)
    assert (parsed.key, parsed.base_url) == (key, base)
    assert parsed.events_url == base + "/v1/events"
    assert key not in repr(parsed) or len(key) <= 6


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        ("ftp://k@host", "http"),
        ("http://host:8080", "no key"),
        ("http://k@:80", "no host"),
        ("http://k@host:notaport", "port"),
    ],
)
def test_parse_dsn_errors(dsn: str, message: str) -> None:
    with pytest.raises(DSNError, match=message):
        parse_dsn(dsn)


def test_dsn_from_env() -> None:
    assert dsn_from_env({}) is None
    assert dsn_from_env({"PUSHLOG_DSN": "  "}) is None
    dsn = dsn_from_env({"PUSHLOG_DSN": "http://k@h"})
    assert dsn is not None and dsn.base_url == "http://h"
