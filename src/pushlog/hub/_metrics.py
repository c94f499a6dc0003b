"""Prometheus metrics of one hub: :class:`HubMetrics`, held in the app's :class:`HubState`.

Each app owns its own ``CollectorRegistry`` (nothing at module level), so two hubs in one process
(tests) never share counters. What is measured, and where:

* ``pushlog_events_ingested_total{level}``: events stored by ``POST /v1/events`` (duplicates not);
* ``pushlog_ingest_commit_seconds``: one ingest transaction (a group commit), from start to commit;
* ``pushlog_deliveries_total{status,transport}``: push attempts by what the sender said
  (sent, retry, gone, failed) and device kind (webpush, ...);
* ``pushlog_push_send_seconds{transport}``: one push request, as the dispatcher waited for it;
* ``pushlog_streams``: live streams (``/v1/stream``) open now, as the stream slots count them;
* ``pushlog_outbox_queued``: deliveries waiting to be sent, counted in the database at scrape time.

``/metrics`` (``api/meta.py``) needs an admin key, or no key when the hub runs with
``metrics_public`` on a loopback address (docs/deploy.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .._levels import Level

#: What ``/metrics`` answers with (Prometheus text format 0.0.4).
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

_DB_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_SEND_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class HubMetrics:
    """The hub's collectors in a registry of their own; :meth:`render` gives the scrape's text."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events_ingested = Counter(
            "pushlog_events_ingested", "Events stored by ingest, by level", ["level"], registry=r
        )
        self.ingest_commit = Histogram(
            "pushlog_ingest_commit_seconds",
            "Seconds one ingest transaction (a group commit) took to commit",
            buckets=_DB_BUCKETS,
            registry=r,
        )
        self.deliveries = Counter(
            "pushlog_deliveries",
            "Push attempts by outcome (sent, retry, gone, failed) and transport",
            ["status", "transport"],
            registry=r,
        )
        self.send_latency = Histogram(
            "pushlog_push_send_seconds",
            "Seconds one push request took, by transport",
            ["transport"],
            buckets=_SEND_BUCKETS,
            registry=r,
        )
        self.streams = Gauge("pushlog_streams", "Live streams open", registry=r)
        self.queued = Gauge("pushlog_outbox_queued", "Deliveries waiting to be sent", registry=r)
        for level in (Level.INFO, Level.WARNING, Level.ERROR, Level.CRITICAL):
            self.events_ingested.labels(level=level.name.lower())  # present (0) before the first event
        # Each attempt's labelled children, looked up once per (transport, status): a fan-out counts
        # thousands of attempts, and ``labels()`` validates and locks on every call.
        self._attempts: dict[tuple[str, str], tuple[Any, Any]] = {}

    def ingested(self, levels: Mapping[int, int]) -> None:
        """Count stored events; ``levels`` maps a numeric level to how many were stored."""
        for level, count in levels.items():
            self.events_ingested.labels(level=Level(level).name.lower()).inc(count)

    def attempted(self, transport: str, status: str, seconds: float) -> None:
        """One push attempt's outcome and duration (the dispatcher's ``DeliveryObserver``)."""
        children = self._attempts.get((transport, status))
        if children is None:
            children = self._attempts[(transport, status)] = (
                self.deliveries.labels(status=status, transport=transport),
                self.send_latency.labels(transport=transport),
            )
        children[0].inc()
        children[1].observe(seconds)

    def render(self, *, queued: int, streams: int) -> bytes:
        """The scrape's text, with the queue depth just read from the database and the live streams
        counted by the hub's stream slots (``_streams.StreamSlots``, their one owner)."""
        self.queued.set(queued)
        self.streams.set(streams)
        return generate_latest(self.registry)
