"""Property test: no record, however broken, stops the records after it from arriving.

Any text (lone surrogates included), bytes, objects whose ``__str__``/``__repr__``/``__format__``
raise, recursive containers, huge and non-finite values, in the message, its arguments, ``extra=``
keys and values and the reserved fields: each is logged through a PushHandler, then 20 ordinary
records, and all 20 must reach the (stand-in) hub, sent by the same worker thread.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import StandInHub

from pushlog import Client, PushHandler
from pushlog._event import RESERVED_KEYS


class Raising:
    """Every way of turning it into text raises."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __format__(self, spec: str) -> str:
        raise RuntimeError("no format")


class NotAString(str):
    """A str subclass whose str() returns something that is not a string."""

    def __str__(self) -> Any:
        return 42


def _recursive_list() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


def _recursive_dict() -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    value["self"] = value
    return value


def _huge_text() -> str:
    return "x" * 2_000_000


def _huge_int() -> int:
    return 10**5000  # str() of it raises ValueError (over 4,300 digits)


def _huge_bytes() -> bytes:
    return b"\xff" * 100_000


_ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
texts = st.one_of(
    st.text(alphabet=_ANY_CHAR, max_size=50),
    st.sampled_from(["\udcff", "\ud800x\udfff", "%s %d %(x)s", "%", "\x00\x1b[2J"]),
    st.builds(_huge_text),
)
bad_values = st.one_of(
    texts,
    st.binary(max_size=50),
    st.builds(Raising),
    st.builds(NotAString),
    st.builds(_recursive_list),
    st.builds(_recursive_dict),
    st.builds(_huge_int),
    st.builds(_huge_bytes),
    st.sampled_from([-(2**80), float("nan"), float("inf"), ()]),
    st.floats(),
    st.integers(),
)
values = st.recursive(
    bad_values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
extras = st.dictionaries(
    st.one_of(texts, st.sampled_from(sorted(RESERVED_KEYS))).filter(
        lambda k: k not in ("message", "asctime")
    ),
    values,
    max_size=6,
)


@pytest.fixture(scope="module")
def fuzz_hub() -> Iterator[StandInHub]:
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield StandInHub(server)
    server.clear()
    server.stop()


@pytest.fixture(scope="module")
def fuzz_logger(fuzz_hub: StandInHub) -> Iterator[tuple[logging.Logger, PushHandler]]:
    client = Client(fuzz_hub.dsn, linger=3600, dedup_window=0, rate_limit=False, queue_size=100_000)
    handler = PushHandler(client=client, level="DEBUG")
    # A logger outside logging's registry: pytest attaches its capture handlers (which re-raise a
    # failing repr) to every registered non-propagating logger, and only pushlog's handler is under test.
    logger = logging.Logger("app.fuzz", logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.disabled = True
    yield logger, handler
    werkzeug.disabled = False
    logger.removeHandler(handler)
    client.close()


_ROUND = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    msg=values,
    args=st.lists(values, max_size=3),
    extra=extras,
    level=st.sampled_from(
        [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL, 5, 35]
    ),
)
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_no_bad_record_stops_the_records_after_it(
    fuzz_hub: StandInHub,
    fuzz_logger: tuple[logging.Logger, PushHandler],
    msg: Any,
    args: list[Any],
    extra: dict[str, Any],
    level: int,
) -> None:
    logger, handler = fuzz_logger
    client = handler.client
    logger.log(level, msg, *args, extra=extra)
    worker = client._worker
    n = next(_ROUND)
    titles = [f"normal record {n}.{i}" for i in range(20)]
    for title in titles:
        logger.info(title)
    client.flush(30)  # False when the bad record was dropped (and counted): that is allowed
    arrived = {e["title"] for e in fuzz_hub.accepted_events()}
    assert set(titles) <= arrived, sorted(set(titles) - arrived)
    assert client._worker is worker or worker is None  # the same thread sent them: it never died
    assert client._worker is not None and client._worker.is_alive()
