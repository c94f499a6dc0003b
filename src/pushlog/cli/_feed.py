"""Reading the hub's feed: filters, history pages, the live stream and acknowledgement.

Both faces of ``pushlog tail`` use this: the line printers (synchronous httpx) and the Textual app
(asynchronous httpx). Filters map one to one onto the query parameters of ``GET /v1/events`` and
``GET /v1/stream`` (docs/architecture.md): ``level`` (minimum), ``channel``, ``tag``, ``meta.KEY=VALUE``
and ``q`` (text).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import httpx

from .._duration import format_span
from .._event import parse_ts
from .._levels import Level, parse_level
from ._common import EXIT_REFUSED, HubAccess, error_message, user_agent
from ._errors import CLIError
from ._sse import SSEParser

StoredEvent = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """What to show. Empty fields do not filter."""

    level: Level | None = None
    channel: str | None = None
    tag: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    text: str | None = None

    def params(self) -> dict[str, str]:
        """Query parameters for the list and stream endpoints."""
        out: dict[str, str] = {}
        if self.level is not None:
            out["level"] = self.level.wire_name
        if self.channel:
            out["channel"] = self.channel
        if self.tag:
            out["tag"] = self.tag
        for key, value in self.meta.items():
            out[f"meta.{key}"] = value
        if self.text:
            out["q"] = self.text
        return out

    def describe(self) -> str:
        """The filter in the syntax :func:`parse_filter` reads (empty string when none)."""
        parts: list[str] = []
        if self.level is not None:
            parts.append(f"level:{self.level.wire_name}")
        if self.channel:
            parts.append(f"channel:{self.channel}")
        if self.tag:
            parts.append(f"tag:{self.tag}")
        parts.extend(f"{k}={v}" for k, v in self.meta.items())
        if self.text:
            parts.append(self.text)
        return " ".join(shlex.quote(p) if " " in p else p for p in parts)

    def matches(self, event: StoredEvent) -> bool:
        """Whether ``event`` passes the filter (the hub filters too; this guards the live list)."""
        if self.level is not None:
            try:
                if parse_level(event.get("level", "info")) < self.level:
                    return False
            except ValueError:
                return False
        if self.channel and event.get("channel") != self.channel:
            return False
        if self.tag and self.tag not in (event.get("tags") or []):
            return False
        metadata = event.get("metadata") or {}
        for key, value in self.meta.items():
            if key not in metadata or str(_scalar(metadata[key])) != value:
                return False
        if self.text:
            hay = f"{event.get('title') or ''}\n{event.get('body') or ''}".lower()
            if self.text.lower() not in hay:
                return False
        return True


def log_order(event: StoredEvent) -> tuple[float, int]:
    """Sort key putting events in the order they were logged: ``ts``, then arrival (``seq``).

    The API lists by arrival (``seq``), but a client sends pushes ahead of feed-only events, so an INFO
    logged just before a WARNING may arrive after it; readers expect log order (docs/webapp.md)."""
    try:
        when = parse_ts(str(event.get("ts"))).timestamp()
    except (TypeError, ValueError):
        when = 0.0
    try:
        seq = int(event.get("seq") or 0)
    except (TypeError, ValueError):
        seq = 0
    return when, seq


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def parse_filter(text: str) -> FeedFilter:
    """Parse the filter bar: ``level:error channel:pay tag:db user_id=42 free text``.

    ``level:``/``l:``, ``channel:``/``c:``, ``tag:``/``t:``, ``KEY=VALUE`` for metadata; every other
    word is part of the text search. Quotes group words. Raises ValueError for a bad level.
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"bad filter: {exc}") from None
    level: Level | None = None
    channel = tag = None
    meta: dict[str, str] = {}
    rest: list[str] = []
    for word in words:
        name, colon, value = word.partition(":")
        if colon and value and name in ("level", "l"):
            level = parse_level(value)
        elif colon and value and name in ("channel", "c"):
            channel = value
        elif colon and value and name in ("tag", "t"):
            tag = value
        elif "=" in word and not word.startswith("="):
            key, _, val = word.partition("=")
            meta[key] = val
        else:
            rest.append(word)
    return FeedFilter(level=level, channel=channel, tag=tag, meta=meta, text=" ".join(rest) or None)


def merge(base: FeedFilter, **changes: Any) -> FeedFilter:
    return replace(base, **changes)


@dataclass(frozen=True, slots=True)
class Page:
    events: list[StoredEvent]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class StreamItem:
    """A live item: ``kind`` is ``"event"`` (``data`` a StoredEvent), ``"update"`` (``data`` the
    StoredEvent of a line whose ``count`` grew: a dedup follow-up was folded into it; ``seq`` is the
    follow-up's position, not the line's), ``"ack"`` (``{"id", "acknowledged_at"}``), ``"resolved"``
    (``{"id", "seq", "resolved_at", "resolved_by", "resolved_after_s"}``: an alert line was resolved)
    or ``"open"`` (first item of every connection: the hub accepted the stream). ``seq`` is the SSE
    ``id:``."""

    kind: str
    data: dict[str, Any]
    seq: str | None


def _headers(access: HubAccess) -> dict[str, str]:
    return {"Authorization": f"Bearer {access.key}", "User-Agent": user_agent()}


def _check(response: httpx.Response) -> None:
    if not response.is_success:
        raise CLIError(error_message(response), exit_code=EXIT_REFUSED)


def _page_params(flt: FeedFilter, limit: int, cursor: str | None) -> dict[str, str]:
    params = flt.params()
    params["limit"] = str(limit)
    if cursor:
        params["cursor"] = cursor
    return params


def _page_from(response: httpx.Response) -> Page:
    _check(response)
    body = response.json()
    return Page(events=list(body.get("events") or []), next_cursor=body.get("next_cursor"))


#: The SSE messages tail reads (docs/hub.md, live stream); others are skipped.
STREAM_KINDS = frozenset({"event", "update", "ack", "resolved"})

#: The fields of a line that a ``resolved`` message carries.
RESOLVED_FIELDS = ("resolved_at", "resolved_by", "resolved_after_s")


def mark_resolved(event: StoredEvent, resolved: dict[str, Any]) -> None:
    """Copy a ``resolved`` message's fields onto the shown line ``event``."""
    for name in RESOLVED_FIELDS:
        event[name] = resolved.get(name)


def _item_from(parser: SSEParser, line: str) -> StreamItem | None:
    message = parser.feed(line)
    if message is None or message.event not in STREAM_KINDS:
        return None
    try:
        data = json.loads(message.data)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return StreamItem(kind=message.event, data=data, seq=message.id)


def _stream_params(flt: FeedFilter, last_id: str | None) -> dict[str, str]:
    params = flt.params()
    if last_id:
        params["last_event_id"] = last_id
    return params


class HubFeed:
    """Synchronous access (the line printers)."""

    def __init__(self, access: HubAccess, *, timeout: float = 10.0) -> None:
        self.access = access
        self._client = httpx.Client(base_url=access.base_url, headers=_headers(access), timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def page(self, flt: FeedFilter, *, limit: int = 50, cursor: str | None = None) -> Page:
        return _page_from(self._client.get("/v1/events", params=_page_params(flt, limit, cursor)))

    def heartbeats(self) -> list[dict[str, Any]]:
        response = self._client.get("/v1/heartbeats")
        _check(response)
        return list(response.json().get("heartbeats") or [])

    def stream(self, flt: FeedFilter, *, last_id: str | None = None) -> Iterator[StreamItem]:
        """Yield live items until the server closes the stream (raises CLIError when refused)."""
        timeout = httpx.Timeout(10.0, read=60.0)  # keepalives come every 15 s
        with self._client.stream(
            "GET", "/v1/stream", params=_stream_params(flt, last_id), timeout=timeout
        ) as response:
            if not response.is_success:
                response.read()
                _check(response)
            yield StreamItem(kind="open", data={}, seq=None)
            parser = SSEParser()
            for line in response.iter_lines():
                item = _item_from(parser, line)
                if item is not None:
                    yield item


class AsyncHubFeed:
    """Asynchronous access (the Textual app)."""

    def __init__(self, access: HubAccess, *, timeout: float = 10.0) -> None:
        self.access = access
        self._client = httpx.AsyncClient(base_url=access.base_url, headers=_headers(access), timeout=timeout)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def page(self, flt: FeedFilter, *, limit: int = 50, cursor: str | None = None) -> Page:
        response = await self._client.get("/v1/events", params=_page_params(flt, limit, cursor))
        return _page_from(response)

    async def get(self, event_id: str) -> StoredEvent:
        response = await self._client.get(f"/v1/events/{event_id}")
        _check(response)
        return dict(response.json())

    async def ack(self, event_id: str) -> StoredEvent:
        response = await self._client.post(f"/v1/events/{event_id}/ack", json={})
        _check(response)
        return dict(response.json())

    async def heartbeats(self) -> list[dict[str, Any]]:
        response = await self._client.get("/v1/heartbeats")
        _check(response)
        return list(response.json().get("heartbeats") or [])

    async def rules(self) -> list[dict[str, Any]]:
        response = await self._client.get("/v1/rules")
        _check(response)
        return list(response.json().get("rules") or [])

    async def rule(self, name: str) -> dict[str, Any]:
        """One rule with its history."""
        response = await self._client.get(f"/v1/rules/{quote(name, safe='')}")
        _check(response)
        return dict(response.json())

    async def stream(self, flt: FeedFilter, *, last_id: str | None = None) -> AsyncIterator[StreamItem]:
        timeout = httpx.Timeout(10.0, read=60.0)
        async with self._client.stream(
            "GET", "/v1/stream", params=_stream_params(flt, last_id), timeout=timeout
        ) as response:
            if not response.is_success:
                await response.aread()
                _check(response)
            yield StreamItem(kind="open", data={}, seq=None)
            parser = SSEParser()
            async for line in response.aiter_lines():
                item = _item_from(parser, line)
                if item is not None:
                    yield item


def resolved_text(event: StoredEvent) -> str:
    """``resolved after 14 min`` for a resolved alert (docs/rules.md), as tail shows it."""
    after = event.get("resolved_after_s")
    return f"resolved after {format_span(float(after))}" if after is not None else "resolved"
