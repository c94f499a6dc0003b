"""Synchronous publishing for the CLI: post, retry briefly, fail with one line.

The commands are short-lived processes, so they send in the foreground and wait for the hub's answer:
``send`` must only exit 0 once the hub accepted. Events and heartbeat check-ins both go through the
client's :class:`~pushlog._transport.HubTransport` (one retry policy for the whole package: connection
errors, 408/425/429 and 5xx are retried within a total time budget, honouring ``Retry-After``; any
other 4xx is final). This module only turns its :class:`~pushlog._transport.SendError` into the CLI's
exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._dsn import DSN
from .._event import Event
from .._transport import HubTransport, SendError, send_now
from ._common import EXIT_REFUSED, EXIT_UNREACHABLE
from ._errors import CLIError

#: Retries within the time budget: enough to ride out a hub restart.
RETRIES = 6


@dataclass(frozen=True, slots=True)
class PublishResult:
    accepted: int
    duplicates: int


def _cli_error(exc: SendError) -> CLIError:
    refused = exc.status is not None and not exc.retryable
    return CLIError(str(exc), exit_code=EXIT_REFUSED if refused else EXIT_UNREACHABLE)


def post_json(dsn: DSN, path: str, payload: dict[str, Any], *, timeout: float = 10.0) -> Any:
    """POST ``payload`` to ``dsn.base_url + path`` with the DSN's key; returns the hub's JSON answer.

    Raises :class:`CLIError` with exit code 3 when the hub could not be reached (or kept answering
    429/5xx) within ``timeout`` seconds, 4 when it refused the request.
    """
    hub = HubTransport(dsn, timeout=timeout)
    try:
        return hub.post_json(path, payload, timeout=timeout, retries=RETRIES)
    except SendError as exc:
        raise _cli_error(exc) from None
    finally:
        hub.close()


def publish(dsn: DSN, events: Sequence[Event], *, timeout: float = 10.0) -> PublishResult:
    """Publish events as one batch (:func:`pushlog.send_now`); raises :class:`CLIError` like
    :func:`post_json`."""
    try:
        result = send_now(events, dsn=dsn, timeout=timeout, retries=RETRIES)
    except SendError as exc:
        raise _cli_error(exc) from None
    return PublishResult(accepted=result.accepted, duplicates=result.duplicates)
