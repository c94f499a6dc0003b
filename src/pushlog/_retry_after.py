"""``Retry-After`` (RFC 9110 §10.2.3): delay-seconds or an HTTP date, as seconds to wait.

Shared by the client's transport (hub answers 429/503) and the hub's push senders (push services
answer 429/5xx).
"""

from __future__ import annotations

import time
from collections.abc import Callable


def parse_retry_after(
    value: str | None, *, now: Callable[[], float] = time.time, cap: float | None = None
) -> float | None:
    """Seconds to wait, never negative and at most ``cap`` when given; ``None`` if absent or unreadable.

    ``now`` (epoch seconds) is only consulted for the HTTP-date form.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        seconds = float(int(text))
    else:
        import email.utils  # the HTTP-date form is rare: keep the email package out of ``import pushlog``

        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None:
            return None
        seconds = max(0.0, moment.timestamp() - now())
    return seconds if cap is None else min(seconds, cap)
