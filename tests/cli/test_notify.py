"""``pushlog notify`` against a real hub."""

from __future__ import annotations

import argparse
import datetime as _dt
import json

from tests.cli.pushlog_cli import assert_one_line_error, real_hub, run_cli
from tests.support.hub_server import ThreadHub

from pushlog.cli import build_parser
from pushlog.cli._notify import build_request

__all__ = ["real_hub"]


def _dsn(hub: ThreadHub) -> str:
    scheme, _, rest = hub.base_url.partition("://")
    return f"{scheme}://{hub.admin_key}@{rest}"


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["notify", *argv])


def test_local_nine_oclock_tomorrow_is_scheduled(real_hub: ThreadHub) -> None:
    hub = real_hub
    with hub.client(hub.admin_key) as http:
        http.put("/v1/segments/pro", json={"filter": 'plan = "pro"'})
        http.put("/v1/templates/weekly", json={"locales": {"en": {"title": "Hi {{ data.count }}"}}})
    result = run_cli(
        ["notify", "--segment", "pro", "--template", "weekly", "-d", "count=3", "--at", "09:00", "--local"],
        env={"PUSHLOG_USERS_DSN": _dsn(hub)},
    )
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    with hub.client(hub.admin_key) as http:
        shown = http.get(f"/v1/notifications/{made['id']}").json()
    tomorrow = _dt.date.today() + _dt.timedelta(days=1)
    assert shown["template"] == "weekly"
    assert shown["schedule"] == {"local_time": "09:00", "date": tomorrow.isoformat(), "timezone": None}
    # expanded once 09:00 tomorrow reaches the first zone (UTC+14), or now if that has passed
    earliest = _dt.datetime.combine(tomorrow, _dt.time(9), tzinfo=_dt.UTC) - _dt.timedelta(hours=14)
    created = _dt.datetime.fromisoformat(shown["created_at"])
    assert _dt.datetime.fromisoformat(shown["start_at"]) == max(earliest, created)


def test_unknown_segment_is_refused_in_one_line(real_hub: ThreadHub) -> None:
    hub = real_hub
    result = run_cli(["notify", "--segment", "nope", "--title", "x"], env={"PUSHLOG_USERS_DSN": _dsn(hub)})
    assert result.returncode == 4
    assert_one_line_error(result, "no segment named 'nope'")


def test_options_become_the_request() -> None:
    request = build_request(
        _args("--users", "1, 2", "--title", "T", "--at", "07:30", "--local", "--timezone", "Europe/Paris"),
        today=_dt.date(2027, 1, 3),
    )
    assert request["audience"] == {"users": ["1", "2"]}
    assert request["schedule"] == {"local_time": "07:30", "date": "2027-01-04", "timezone": "Europe/Paris"}
    usage = run_cli(["notify", "--title", "x"], env={"PUSHLOG_USERS_DSN": "http://pl_users_x@127.0.0.1:9"})
    assert usage.returncode == 2
    assert_one_line_error(usage, "name an audience")
