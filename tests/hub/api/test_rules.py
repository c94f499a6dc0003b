"""``/v1/rules`` through a real hub: declaring (idempotent), scopes (a publish key declares
expectations only, and never over an admin's rule), validation with the field named, history,
removal, and the rules file a hub declares at start (and forgets when the file drops a rule)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from tests.support.hub_server import ThreadHub

EXPECT = {
    "kind": "expect",
    "every": "1d",
    "grace": "1h",
    "match": {"text": "backup finished", "channel": "backup"},
}


def put(hub: ThreadHub, name: str, body: Any, key: str | None = None) -> httpx.Response:
    with hub.client(key or hub.admin_key) as client:
        return client.put(f"/v1/rules/{name}", json=body)


def test_declare_read_list_and_remove(hub: ThreadHub) -> None:
    answer = put(hub, "backup", EXPECT)
    assert answer.status_code == 200, answer.text
    rule = answer.json()
    assert (rule["kind"], rule["every_s"], rule["grace_s"], rule["level"], rule["state"]) == (
        "expect",
        86400.0,
        3600.0,
        "error",
        "waiting",
    )
    assert rule["match"] == {"text": "backup finished", "channel": "backup"}
    assert put(hub, "backup", EXPECT).json()["updated_at"] == rule["updated_at"], (
        "same declaration: unchanged"
    )
    with hub.client(hub.read_key) as client:
        listed = client.get("/v1/rules").json()["rules"]
        one = client.get("/v1/rules/backup").json()
        assert client.delete("/v1/rules/backup").status_code == 403
    assert [r["name"] for r in listed] == ["backup"]
    assert [(h["previous"], h["state"], h["detail"]) for h in one["history"]] == [
        (None, "waiting", "declared (api)")
    ]
    with hub.client(hub.admin_key) as client:
        assert client.delete("/v1/rules/backup").status_code == 204
        gone = client.get("/v1/rules/backup")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_a_publish_key_declares_expectations_only_and_never_over_an_admins_rule(hub: ThreadHub) -> None:
    assert put(hub, "mine", EXPECT, hub.publish_key).json()["source"] == "client"
    refused = put(hub, "storm", {"kind": "threshold", "count": 5, "within": "1m"}, hub.publish_key)
    assert refused.status_code == 403 and "expect rules only" in refused.json()["error"]["message"]
    assert put(hub, "ops", EXPECT).status_code == 200
    taken = put(hub, "ops", {**EXPECT, "every": "2d"}, hub.publish_key)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "conflict"
    # a read key is above publish in scope: the same limits apply
    assert (
        put(hub, "storm", {"kind": "threshold", "count": 5, "within": "1m"}, hub.read_key).status_code == 403
    )


def test_invalid_declarations_name_the_field(hub: ThreadHub) -> None:
    cases: list[tuple[Any, str]] = [
        ({"kind": "expect"}, "every: required for an expect rule"),
        ({"kind": "threshold", "count": 5}, "within: required for a threshold rule"),
        ({"kind": "threshold", "count": 1, "within": "1m"}, "count: must be at least 2"),
        ({"kind": "resolve", "quiet": "10m", "every": "1h"}, "every: not used by a resolve rule"),
        ({"kind": "expect", "every": "soon"}, "every:"),
        ({"kind": "expect", "every": "1d", "match": {"chanel": "x"}}, "match"),
        ({"kind": "later"}, "kind"),
        ({"kind": "expect", "every": 400 * 86400}, "every:"),
        ({"kind": "escalate"}, "steps: required for an escalate rule"),
        (
            {"kind": "escalate", "steps": [{"after": "30m", "group": "a"}, {"after": "10m", "group": "b"}]},
            "steps[1].after: must be later than the step before",
        ),
        ({"kind": "escalate", "steps": [{"after": "10m"}]}, "steps[0].group: required"),
    ]
    for body, message in cases:
        answer = put(hub, "bad", body)
        assert answer.status_code == 422, (body, answer.text)
        assert message in answer.json()["error"]["message"], (body, answer.text)
    assert put(hub, " spaced", EXPECT).status_code == 400


def test_the_rules_file_is_declared_at_start_and_its_dropped_rules_removed(
    hub_factory: Callable[..., ThreadHub], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        """
[rules."nightly backup finished"]
kind = "expect"
every = "1d"
grace = "1h"
match = { channel = "backup" }

[rules.declines]
kind = "threshold"
match = { text = "payment declined", level = "warning" }
count = 20
within = "5m"
level = "error"
""",
        encoding="utf-8",
    )
    data_dir = tmp_path / "hub"
    first = hub_factory(data_dir=data_dir, rules_file=rules)
    with first.client(first.read_key) as client:
        listed = {r["name"]: r for r in client.get("/v1/rules").json()["rules"]}
    assert {name: r["source"] for name, r in listed.items()} == {
        "declines": "file",
        "nightly backup finished": "file",
    }
    assert (listed["declines"]["count"], listed["declines"]["within_s"]) == (20, 300.0)
    assert put(first, "declines", EXPECT, first.publish_key).status_code == 409
    first.stop()

    rules.write_text('[rules.declines]\nkind = "threshold"\ncount = 20\nwithin = "5m"\n', encoding="utf-8")
    second = hub_factory(data_dir=data_dir, rules_file=rules)
    with second.client(second.read_key) as client:
        names = [r["name"] for r in client.get("/v1/rules").json()["rules"]]
    assert names == ["declines"]
