"""Ingest: events per second the hub accepts in batches, beside raw SQLite ``executemany``.

Contenders, interleaved round by round in the same run (the machine is shared; the best round of
each is kept):

* ``hub``      - ``POST /v1/events`` to a real hub (``pushlog serve`` in a subprocess, SQLite in WAL
                 mode with ``synchronous=FULL``), batches of BATCH events, from CLIENTS concurrent
                 keep-alive connections. Every 202 means the batch is committed to disk.
* ``raw``      - the same events into the same ``events`` table with ``sqlite3`` ``executemany``, one
                 transaction (one fsync) per batch, same pragmas: the floor a hub cannot beat.
* ``raw+side`` - the same, plus the rows the hub also writes for filtering (``event_tags``,
                 ``event_meta``): the same rows as the hub, without HTTP, JSON, validation,
                 SQLAlchemy, the idempotency check and delivery matching.

* ``hub+rules`` - a second hub, the same requests, with 100 active rules (``docs/rules.md``): 10 on
                 every channel, 10 on this channel (5 expectations that match every batch), 80 on
                 other channels; measured in the same rounds as ``hub``.

The ratios say what those layers cost on top of bare inserts.
Targets: hub >= 0.5x raw+side (issue 15); hub+rules >= 0.8x hub (issue 13).
Usage: ``python benchmarks/bench_ingest.py [--quick] [--smoke]``.
"""

from __future__ import annotations

import concurrent.futures
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from _common import SMOKE, machine, ratio_line, running_hub, save_figures

QUICK = "--quick" in sys.argv
BATCH = 100
BATCHES = 3 if SMOKE else 20 if QUICK else 60
ROUNDS = 1 if SMOKE else 2 if QUICK else 4
CLIENTS = 4


def make_batch(round_no: int, batch_no: int) -> list[dict[str, Any]]:
    return [
        {
            "id": str(uuid.uuid4()),
            "ts": "2026-01-01T12:00:00.000000Z",
            "level": "info" if i % 4 else "warning",
            "title": f"order {round_no}-{batch_no}-{i} paid",
            "body": "Pro plan · annual · card ending 4242",
            "channel": "payments",
            "tags": ["billing", "stripe"],
            "metadata": {"user_id": i, "plan": "pro", "amount": 29.0},
            "fingerprint": f"fp-{i % 10}",
            "count": 1,
            "source": {"logger": "app.pay", "host": "web-1", "pid": 1234},
        }
        for i in range(BATCH)
    ]


def declare_rules(url: str, admin_key: str, count: int = 100) -> None:
    """``count`` rules of every kind, as an app with many jobs and channels might have them."""
    rules: list[tuple[str, dict[str, Any]]] = []
    for i in range(10):  # no channel: every event is offered to these
        rules.append(
            (
                f"any-{i}",
                {"kind": "threshold", "match": {"text": f"declined {i}"}, "count": 20, "within": "5m"},
            )
        )
    for i in range(5):  # this channel; they match (one deadline moved per batch and rule)
        rules.append(
            (f"paid-{i}", {"kind": "expect", "match": {"channel": "payments", "text": "paid"}, "every": "1h"})
        )
        rules.append(
            (
                f"refund-{i}",
                {
                    "kind": "threshold",
                    "match": {"channel": "payments", "text": "refund"},
                    "count": 5,
                    "within": "1m",
                },
            )
        )
    for i in range(count - len(rules)):  # other channels
        kind = ("expect", "threshold", "resolve")[i % 3]
        rule: dict[str, Any] = {"kind": kind, "match": {"channel": f"job-{i}"}}
        rule.update(
            {
                "expect": {"every": "1d"},
                "threshold": {"count": 10, "within": "10m"},
                "resolve": {"quiet": "15m"},
            }[kind]
        )
        rules.append((f"job-{i}", rule))
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}) as client:
        for name, rule in rules:
            answer = client.put(f"/v1/rules/{name}", json=rule)
            if answer.status_code != 200:
                raise SystemExit(f"hub answered {answer.status_code}: {answer.text}")


def run_hub(url: str, key: str, batches: list[list[dict[str, Any]]]) -> float:
    clients = [httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) for _ in range(CLIENTS)]
    try:
        for client in clients:  # open the connections outside the timed region
            client.get("/healthz")

        def send(index: int) -> None:
            answer = clients[index % CLIENTS].post("/v1/events", json={"events": batches[index]})
            if answer.status_code != 202:
                raise SystemExit(f"hub answered {answer.status_code}: {answer.text}")

        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(send, range(len(batches))))
        elapsed = time.perf_counter() - start
    finally:
        for client in clients:
            client.close()
    return len(batches) * BATCH / elapsed


RAW_COLUMNS = (
    "id",
    "ts",
    "received_at",
    "level",
    "title",
    "body",
    "channel",
    "tags",
    "link",
    "image",
    "actions",
    "metadata",
    "fingerprint",
    "count",
    "push",
    "source",
    "key_id",
)


def run_raw(db_path: Path, batches: list[list[dict[str, Any]]], *, side_tables: bool) -> float:
    """Insert the batches with sqlite3 executemany; ``side_tables`` also writes tags and metadata."""
    from pushlog.hub.store.events import meta_text

    levels = {"info": 20, "warning": 30}
    connection = sqlite3.connect(db_path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    next_seq = int(connection.execute("SELECT coalesce(max(seq), 0) + 1 FROM events").fetchone()[0])
    prepared = []
    for batch in batches:
        events, tags, meta = [], [], []
        for e in batch:
            seq, next_seq = next_seq, next_seq + 1
            events.append(
                (
                    seq,
                    e["id"],
                    e["ts"],
                    e["ts"],
                    levels[e["level"]],
                    e["title"],
                    e["body"],
                    e["channel"],
                    json.dumps(e["tags"]),
                    None,
                    None,
                    "[]",
                    json.dumps(e["metadata"]),
                    e["fingerprint"],
                    1,
                    e["level"] == "warning",
                    json.dumps(e["source"]),
                    "key",
                )
            )
            tags += [(seq, tag) for tag in e["tags"]]
            meta += [(seq, k, meta_text(v)) for k, v in e["metadata"].items()]
        prepared.append((events, tags, meta))
    columns = ("seq", *RAW_COLUMNS)
    sql = f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    start = time.perf_counter()
    for events, tags, meta in prepared:
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(sql, events)
        if side_tables:
            connection.executemany("INSERT INTO event_tags (event_seq, tag) VALUES (?, ?)", tags)
            connection.executemany("INSERT INTO event_meta (event_seq, key, value) VALUES (?, ?, ?)", meta)
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - start
    connection.close()
    return len(batches) * BATCH / elapsed


def main() -> None:
    from pushlog.hub.store import create_engine, migrate

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        raw_db = root / "raw.db"
        engine = create_engine(f"sqlite:///{raw_db}")
        migrate(engine)  # the hub's own schema and indexes
        engine.dispose()
        best = {"hub": 0.0, "raw": 0.0, "raw+side": 0.0, "hub+rules": 0.0}
        with running_hub(root / "hub") as hub, running_hub(root / "hub-rules") as ruled:
            declare_rules(ruled.url, ruled.credentials["admin"])
            for round_no in range(ROUNDS):
                batches = [make_batch(round_no, b) for b in range(BATCHES)]
                best["hub"] = max(best["hub"], run_hub(hub.url, hub.credentials["publish"], batches))
                best["hub+rules"] = max(
                    best["hub+rules"], run_hub(ruled.url, ruled.credentials["publish"], batches)
                )
                best["raw"] = max(best["raw"], run_raw(raw_db, batches, side_tables=False))
                again = [make_batch(round_no + ROUNDS, b) for b in range(BATCHES)]  # fresh ids
                best["raw+side"] = max(best["raw+side"], run_raw(raw_db, again, side_tables=True))
    print(f"bench_ingest: {machine()}, {BATCHES} batches x {BATCH} events, {ROUNDS} rounds, best kept")
    labels = {
        "hub": f"hub       POST /v1/events, {CLIENTS} clients (202 = on disk)",
        "raw": "raw       sqlite3 executemany, events only",
        "raw+side": "raw+side  sqlite3 executemany, events + tags + metadata",
        "hub+rules": "hub+rules the same as hub, 100 active rules",
    }
    for name, label in labels.items():
        print(f"  {label:<58} {best[name]:>8,.0f} events/s")
    hub = best["hub"]
    print(
        ratio_line("hub / raw+side (the same rows, no HTTP or validation)", hub / best["raw+side"], ">= 0.5")
    )
    print(ratio_line("hub / raw (events only)", hub / best["raw"]))
    print(ratio_line("hub+rules / hub (100 active rules beside none)", best["hub+rules"] / hub, ">= 0.8"))
    save_figures(
        "ingest", {"events_per_second": best, "batch": BATCH, "batches": BATCHES, "clients": CLIENTS}
    )


if __name__ == "__main__":
    main()
