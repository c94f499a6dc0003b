"""Cost of redaction per event, on the worker thread (never the thread that logs).

Run: ``.venv/bin/python benchmarks/bench_redact.py`` (``--quick`` for fewer rounds). For each kind of
event: microseconds to redact it, and the ratio to serialising the same event to JSON (what the worker
does to every event anyway), measured side by side in one process, medians of interleaved batches.
Times are the thread's CPU time (``time.thread_time_ns``): what the worker takes from the process,
and steadier than wall time on a busy machine.

Each event's title and trace id differ (as formatted messages do), so the redactor's cache of short
texts helps only where real logs repeat themselves (logger names, hosts, plain values); the last row
shows the same WARNING over and over, where every short text is a cache hit. The ERROR's frames
repeat (its message does not), the 8 KB body's lines do not.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable

from _common import SMOKE

from pushlog._event import Event
from pushlog._levels import Level
from pushlog._redact import Redactor

QUICK = "--quick" in sys.argv
ROUNDS = 2 if SMOKE else 10 if QUICK else 40
BATCH = 50
_SERIAL = itertools.count(10_000)

TRACEBACK = "\n".join(
    [
        "Traceback (most recent call last):",
        *(
            f'  File "/srv/app/charges.py", line {40 + i}, in step_{i}\n    result = step_{i + 1}(ctx)'
            for i in range(12)
        ),
        "httpx.HTTPStatusError: Server error '502 Bad Gateway' for url 'https://api.example.com/v1/charges?limit=50'",
    ]
)


def repeated() -> Event:
    """A WARNING as apps log it: a one-line message, a few metadata fields, a source."""
    return Event(
        title="Payment failed for customer cus_8421 (ada@example.com): card declined, retry 3/5",
        level=Level.WARNING,
        metadata={
            "user_id": 8421,
            "plan": "pro",
            "amount_cents": 2900,
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        },
        source={"logger": "app.billing", "module": "charges:42", "host": "web-1", "pid": 4242},
    )


def typical() -> Event:
    """:func:`repeated` with this event's own customer number and trace id."""
    event = repeated()
    n = next(_SERIAL)
    event.title = event.title.replace("8421", str(n))
    event.metadata["user_id"], event.metadata["trace_id"] = n, f"{n * 2654435761:032x}"
    return event


def with_traceback() -> Event:
    """An ERROR from the same place as the last one (the same frames), with its own message."""
    event = typical()
    event.level, event.body = Level.ERROR, TRACEBACK.replace("limit=50", f"limit=50&after={next(_SERIAL)}")
    return event


def big() -> Event:
    event = typical()
    event.body = "".join(
        f"GET /v1/events?limit=50&cursor=abc{next(_SERIAL)} 200 12ms user=ada plan=pro\n" for _ in range(120)
    )[:8000]
    event.metadata.update(
        {f"field_{i}": {"nested": ["value"] * 5, "note": "ordinary text " * 8} for i in range(10)}
    )
    return event


def per_event_us(make: Callable[[], Event], work: Callable[[Event], object]) -> float:
    events = [make() for _ in range(BATCH)]
    start = time.thread_time_ns()
    for event in events:
        work(event)
    return (time.thread_time_ns() - start) / BATCH / 1000


def main() -> None:
    redactor = Redactor()
    print(
        f"bench_redact: python {sys.version.split()[0]}, batches of {BATCH}, {ROUNDS} rounds,"
        " medians of thread CPU time"
    )
    print(f"  {'event':<28}{'redact µs':>12}{'json µs':>12}{'redact/json':>14}")
    for name, make in (
        ("typical WARNING", typical),
        ("ERROR with a traceback", with_traceback),
        ("8 KB body, nested", big),
        ("typical WARNING, repeated", repeated),
    ):
        redact, serialise = [], []
        for _ in range(ROUNDS):
            redact.append(per_event_us(make, redactor.event))
            serialise.append(per_event_us(make, lambda e: json.dumps(e.to_wire(), ensure_ascii=False)))
        r, s = statistics.median(redact), statistics.median(serialise)
        print(f"  {name:<28}{r:>12.1f}{s:>12.1f}{r / s:>13.1f}x")


if __name__ == "__main__":
    main()
