"""Draw one PNG per benchmark from the figures the benchmarks wrote (docs/performance/<name>.json).

Run after the benchmarks (``make bench`` does): ``python benchmarks/plot.py [--out DIR]``. A benchmark whose
figures file is missing is skipped with a note. Needs matplotlib (the ``dev`` extra).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure  # drawn without pyplot: no GUI backend, no global state

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "performance"


def _bars(ax: Axes, labels: list[str], values: list[float], colors: list[str] | None = None) -> None:
    bars = ax.bar(labels, values, color=colors)
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)


def emit(data: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(16, 4.8))
    a, b, c = fig.subplots(1, 3, gridspec_kw={"width_ratios": [3, 1.6, 2]})
    rows = data["calling_thread_us"]
    scenarios = list(rows)
    names = [("null", "NullHandler"), ("queue", "QueueHandler"), ("pushlog", "PushHandler")]
    width = 0.27
    for i, (key, label) in enumerate(names):
        xs = [j + (i - 1) * width for j in range(len(scenarios))]
        bars = a.bar(xs, [rows[s].get(key, 0.0) for s in scenarios], width, label=label)
        a.bar_label(bars, fmt="%.1f", fontsize=7)
    a.set_xticks(range(len(scenarios)), scenarios, fontsize=8)
    a.set_ylabel("µs CPU of the calling thread per record")
    a.set_title("Calling thread (live hub)\ntarget: PushHandler <= 1.2x QueueHandler on pushed WARNING")
    a.legend(fontsize=8)
    whole = data["whole_process_us"]
    labels = {
        "stdlib": "Queue+Listener\nJSON lines",
        "stdlib_null": "Queue+Listener\nno work",
        "pushlog": "PushHandler",
    }
    shown = [k for k in labels if k in whole]
    _bars(b, [labels[k] for k in shown], [whole[k]["cpu_us"] for k in shown])
    b.axhline(2.5 * whole["stdlib"]["cpu_us"], color="red", linestyle="--", label="target: 2.5x JSON lines")
    b.set_ylabel("µs CPU of the whole process per pushed record")
    b.set_title("Whole process, until delivered")
    b.legend(fontsize=8)
    sentry = data.get("sentry_us", {}).get("pushed WARNING")
    if sentry:
        labels = ["QueueHandler", "PushHandler", "Sentry", "Sentry\nno breadcrumbs"]
        values = [sentry["queue"], sentry["push"], sentry["sentry"], sentry["sentry_nocrumbs"]]
        _bars(c, labels, values)
        c.set_yscale("log")
        c.set_ylabel("µs per pushed WARNING (log scale)")
        c.set_title("Beside Sentry's LoggingIntegration")
    return fig


def fanout(data: dict[str, Any]) -> Figure:
    sizes = data["sizes"]
    fig = Figure(figsize=(7 * len(sizes), 4.5))
    axes = fig.subplots(1, 2 * len(sizes), squeeze=False)[0]
    cores = data["cores"]
    for n, (size, rows) in enumerate(sizes.items()):
        rate_ax, latency_ax = axes[2 * n], axes[2 * n + 1]
        names = [k for k in rows if not k.startswith("crypto floor")]
        _bars(rate_ax, [k.replace(" ", "\n", 1) for k in names], [rows[k]["rate"] for k in names])
        floor = rows["crypto floor"]["rate"]
        rate_ax.axhline(floor, color="grey", linestyle=":", label=f"{cores}-core crypto floor, idle cores")
        same = rows.get("crypto floor (wall, same rounds)")  # what the busy machine gave in the same rounds
        if same is not None:
            rate_ax.axhline(same["rate"], color="black", linestyle=":", label="crypto floor, same rounds")
            floor = same["rate"]
        rate_ax.axhline(0.4 * floor, color="red", linestyle="--", label="target: 40% of the floor")
        rate_ax.set_ylabel("messages per second")
        rate_ax.set_title(f"{int(size):,} subscriptions: throughput")
        rate_ax.legend(fontsize=8)
        width = 0.4
        xs = list(range(len(names)))
        first = latency_ax.bar(
            [x - width / 2 for x in xs], [rows[k]["first_ms"] for k in names], width, label="first push"
        )
        last = latency_ax.bar(
            [x + width / 2 for x in xs], [rows[k]["last_ms"] for k in names], width, label="last push"
        )
        latency_ax.bar_label(first, fmt="%.0f", fontsize=7)
        latency_ax.bar_label(last, fmt="%.0f", fontsize=7)
        latency_ax.set_xticks(xs, [k.replace(" ", "\n", 1) for k in names], fontsize=8)
        latency_ax.set_yscale("log")
        latency_ax.set_ylabel("ms from start (log scale)")
        latency_ax.set_title(f"{int(size):,} subscriptions: first and last push")
        latency_ax.legend(fontsize=8)
    return fig


def ingest(data: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    rates = data["events_per_second"]
    names = {
        "hub": "hub\nPOST /v1/events",
        "hub+rules": "hub, 100 rules\nPOST /v1/events",
        "raw": "raw sqlite3\nevents only",
        "raw+side": "raw sqlite3\nevents+tags+meta",
    }
    _bars(ax, [names.get(key, key) for key in rates], list(rates.values()))
    ax.axhline(0.5 * rates["raw+side"], color="red", linestyle="--", label="target: 0.5x raw+side")
    ax.set_ylabel("events per second (batches of 100)")
    ax.set_title("Ingest beside raw SQLite executemany")
    ax.legend(fontsize=8)
    return fig


def streams(data: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(12, 4.5))
    lat, cpu = fig.subplots(1, 2)
    for name, runs in data["runs"].items():
        counts = [r["streams"] for r in runs]
        lat.plot(counts, [r["p50_ms"] for r in runs], marker="o", label=f"{name} p50")
        lat.plot(counts, [r["p99_ms"] for r in runs], marker="x", linestyle="--", label=f"{name} p99")
        cpu.plot(counts, [r["hub_cpu_us_per_delivery"] for r in runs], marker="o", label=name)
    lat.axhline(50, color="red", linestyle=":", label="target p50 50 ms at 500")
    lat.set_yscale("log")
    lat.set_xlabel("connected streams")
    lat.set_ylabel("publish -> receive, ms (log scale)")
    lat.set_title(f"Live streams at {data['rate']:g} events/s")
    lat.legend(fontsize=8)
    cpu.set_xlabel("connected streams")
    cpu.set_yscale("log")
    cpu.set_ylabel("hub CPU µs per event delivered to one stream (log scale)")
    cpu.set_title("Hub CPU per delivery")
    cpu.legend(fontsize=8)
    return fig


def latency(data: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(12, 4.5))
    axes = fig.subplots(1, 2)
    for ax, path, title in zip(
        axes, ("push", "sse"), ("log call -> push service", "log call -> SSE stream"), strict=True
    ):
        for name, run in data["runs"].items():
            values = run[f"{path}_ms"]
            ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=name)
        ax.axvline(5, color="red", linestyle=":", label="target p50 5 ms")
        if path == "push":
            ax.axvline(20, color="red", linestyle="--", label="target p99 20 ms")
        ax.set_xscale("log")
        ax.set_xlabel("ms (log scale)")
        ax.set_ylabel("share of records at or below")
        ax.set_title(f"A lone WARNING: {title}")
        ax.legend(fontsize=8)
    return fig


def scale(data: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(15, 4.5))
    rate, p99, fan = fig.subplots(1, 3)
    setups = data["setups"]
    labels = [
        "SQLite\n1 process" if name == "sqlite" else f"PostgreSQL\n{row['processes']} proc."
        for name, row in setups.items()
    ]
    colors = ["tab:gray" if name == "sqlite" else "tab:blue" for name in setups]
    _bars(rate, labels, [row["events_per_s"] for row in setups.values()], colors)
    rate.set_ylabel(f"events per second (batches of {data['batch']}, {data['clients']} clients)")
    rate.set_title("Ingest")
    _bars(p99, labels, [row["p99_ms"] for row in setups.values()], colors)
    p99.set_ylabel("p99 of one POST /v1/events, ms")
    p99.set_title("Publish latency under that load")
    _bars(fan, labels, [row["msgs_per_s"] for row in setups.values()], colors)
    fan.set_ylabel(f"pushes per second (one event to {data['devices']:,} devices)")
    fan.set_title("Fan-out, warm (the dispatchers share the outbox)")
    return fig


PLOTS: dict[str, Callable[[dict[str, Any]], Figure]] = {
    "emit": emit,
    "fanout": fanout,
    "ingest": ingest,
    "latency": latency,
    "scale": scale,
    "streams": streams,
}


def main(out: Path = FIGURES) -> int:
    """Draw every benchmark whose figures exist into ``out`` (``--out DIR``; default beside the
    figures, where docs/performance.md shows them)."""
    for name, draw in PLOTS.items():
        source = FIGURES / f"{name}.json"
        if not source.exists():
            print(f"plot: no {source.name} (run benchmarks/bench_{name}.py first), skipped")
            continue
        fig = draw(json.loads(source.read_text()))
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=90)
        print(f"plot: wrote {out / f'{name}.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else FIGURES))
