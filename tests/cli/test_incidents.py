"""Tail's incident grouping (cli/_incidents.py): the hub's key rule and joining live lines."""

from __future__ import annotations

from pushlog.cli._incidents import Incident, incident_key, incident_of


def test_a_trace_id_wins_over_the_fingerprint_and_a_line_without_either_stands_alone() -> None:
    assert incident_key({"metadata": {"trace_id": "t1"}, "fingerprint": "fp"}) == "trace_id:t1"
    assert incident_key({"metadata": {"trace_id": ""}, "fingerprint": "fp"}) == "fingerprint:fp"
    assert incident_key({"metadata": {}, "fingerprint": None}) is None


def test_live_lines_join_the_hubs_incident_and_lines_it_counted_are_not_counted_twice() -> None:
    hub = {"first": "2026-11-21T00:44:00Z", "last": "2026-11-21T00:52:00Z", "count": 4, "lines": 3}
    loaded = [
        {"ts": "2026-11-21T00:52:00Z", "count": 1, "incident": hub},
        {"ts": "2026-11-21T00:44:00Z", "count": 3, "incident": hub},
    ]
    live = {
        "ts": "2026-11-21T00:58:00Z",
        "last_seen_at": "2026-11-21T00:59:30Z",
        "count": 2,
        "incident": None,
    }
    assert incident_of([live, *loaded]) == Incident(
        first="2026-11-21T00:44:00Z", last="2026-11-21T00:59:30Z", count=6, lines=4
    )
    assert incident_of([]) is None


def test_lines_loaded_alone_make_an_incident_of_their_own_when_they_meet() -> None:
    alone = {"ts": "2026-11-21T01:00:00Z", "count": 1, "incident": None}
    earlier = {"ts": "2026-11-21T00:30:00Z", "count": 1, "incident": None}
    found = incident_of([alone, earlier])
    assert found == Incident(first="2026-11-21T00:30:00Z", last="2026-11-21T01:00:00Z", count=2, lines=2)
    assert found.label(lambda text: text[11:16]) == "incident: 2 lines, first 00:30, last 01:00"
