"""Heartbeat check-ins from the CLI: ``POST /v1/heartbeats/{name}`` with the publish key.

Body: ``{"status": "start" | "success" | "failure", "every_s": float, "grace_s": float | null,
"exit_code": int?, "duration_s": float?, "message": str?}``. The hub creates the heartbeat on its first
check-in and updates its period from every check-in that carries one.
"""

from __future__ import annotations

import datetime as _dt
import urllib.parse
from typing import Any

from .._dsn import DSN
from ._publish import post_json


def checkin(
    dsn: DSN,
    name: str,
    status: str,
    *,
    every: _dt.timedelta | None = None,
    grace: _dt.timedelta | None = None,
    timeout: float = 10.0,
    exit_code: int | None = None,
    duration: float | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """Check in and return the heartbeat as the hub now sees it. Raises CLIError like ``publish``."""
    payload: dict[str, Any] = {"status": status}
    if every is not None:
        payload["every_s"] = every.total_seconds()
    if grace is not None:
        payload["grace_s"] = grace.total_seconds()
    if exit_code is not None:
        payload["exit_code"] = exit_code
    if duration is not None:
        payload["duration_s"] = round(duration, 3)
    if message:
        payload["message"] = message
    path = "/v1/heartbeats/" + urllib.parse.quote(name, safe="")
    body = post_json(dsn, path, payload, timeout=timeout)
    return body if isinstance(body, dict) else {}
