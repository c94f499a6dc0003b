"""One push standing for several that waited (quiet hours, caps, digests).

The release pass (``store/outbox.release_held``) builds the summary from the held rows' events and
stores it on the one delivery that goes out; the payload builder asks :func:`summary_fields` what to
show instead of that event's own title and body.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlencode

from .._clock import format_time

#: How many titles a summary lists (the most frequent first).
TOP_TITLES: Final = 5
_WHY: Final = {
    "quiet_hours": "during quiet hours",
    "frequency_cap": "over your limit",
    "digest": "in your digest",
}


def make_summary(
    items: Iterable[tuple[str, str | None, _dt.datetime]], reasons: Iterable[str]
) -> dict[str, Any]:
    """The stored summary of held pushes given as (title, channel, event ts)."""
    rows = list(items)
    titles = Counter(title for title, _, _ in rows)
    channels = Counter(channel or "" for _, channel, _ in rows)
    return {
        "count": len(rows),
        "reasons": sorted(set(reasons)),
        "since": format_time(min(ts for _, _, ts in rows)),
        "by_channel": dict(channels.most_common()),
        "titles": [[title, n] for title, n in titles.most_common(TOP_TITLES)],
    }


def summary_fields(summary: Mapping[str, Any], *, base_url: str) -> dict[str, Any]:
    """Payload fields replacing the carrier event's: title, body (counts per channel and the top
    titles), count, and ``url`` pointing at the feed filtered to the period."""
    count = int(summary["count"])
    why = " / ".join(_WHY.get(r, r) for r in summary.get("reasons", ())) or "while you were away"
    channels = ", ".join(
        f"#{c} {n}" if c else f"{n} without channel" for c, n in summary["by_channel"].items()
    )
    titles = "; ".join(f"{t} (x{n})" if n > 1 else t for t, n in summary["titles"])
    query = urlencode({"since": summary["since"]})
    return {
        "title": f"{count} notifications {why}",
        "body": f"{channels}\n{titles}",
        "count": count,
        "url": f"{base_url.rstrip('/')}/#/?{query}",
        "summary": True,
    }
