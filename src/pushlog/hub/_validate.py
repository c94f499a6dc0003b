"""Validation of request bodies into typed values, with errors that name the offending field.

Malformed JSON and invalid UTF-8 are 400 (:func:`parse_json`); a well-formed body with wrong types,
missing or oversized fields is 422 with a message like ``events[3].title: required``.
"""

from __future__ import annotations

import datetime as _dt
import json
import urllib.parse
import uuid
from typing import Any

from .._event import (
    MAX_ACTIONS,
    MAX_BODY,
    MAX_CHANNEL,
    MAX_FINGERPRINT,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE,
    MAX_TAG,
    MAX_TAGS,
    MAX_TITLE,
    MAX_URL,
    parse_ts,
)
from .._levels import POLICIES, parse_level
from ._errors import ApiError
from .store.events import NewEvent

MAX_ID = 64
MAX_SOURCE_BYTES = 4_096


def parse_json(raw: bytes) -> Any:
    """Decode a request body: 400 ``invalid_utf8`` / ``malformed_json`` when it is neither."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_utf8", f"request body is not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise ApiError(400, "malformed_json", "request body is empty; expected a JSON object")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "malformed_json", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def invalid(where: str, message: str) -> ApiError:
    return ApiError(422, "invalid", f"{where}: {message}")


def _type_name(value: Any) -> str:
    return (
        "null" if value is None else type(value).__name__.replace("dict", "object").replace("list", "array")
    )


def opt_str(data: dict[str, Any], key: str, where: str, *, limit: int) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{where}.{key}", f"must be a string or null, not {_type_name(value)}")
    if len(value) > limit:
        raise invalid(f"{where}.{key}", f"longer than {limit} characters")
    return value


def opt_url(data: dict[str, Any], key: str, where: str) -> str | None:
    value = opt_str(data, key, where, limit=MAX_URL)
    if value is None or value == "":
        return None
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid(f"{where}.{key}", "must be an http(s) URL")
    return value


def _json_length(value: Any) -> int:
    """Length of ``value`` as JSON, without serialising the common cases (short strings, scalars)."""
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, int | float):
        return len(repr(value))
    if isinstance(value, str) and len(value) <= MAX_METADATA_VALUE // 6:
        return len(value) + 2  # even if every character needed a \uXXXX escape it would fit
    return len(json.dumps(value, ensure_ascii=False))


def _metadata(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(where, f"must be an object, not {_type_name(value)}")
    if len(value) > MAX_METADATA_KEYS:
        raise invalid(where, f"more than {MAX_METADATA_KEYS} keys")
    for key, item in value.items():
        if len(key) > 128 or not key:
            raise invalid(where, f"key {key[:40]!r} must be 1 to 128 characters")
        if _json_length(item) > MAX_METADATA_VALUE:
            raise invalid(f"{where}.{key}", f"value longer than {MAX_METADATA_VALUE} characters as JSON")
    return dict(value)


def _tags(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(where, f"must be an array of strings, not {_type_name(value)}")
    if len(value) > MAX_TAGS:
        raise invalid(where, f"more than {MAX_TAGS} tags")
    for index, tag in enumerate(value):
        if not isinstance(tag, str) or not tag:
            raise invalid(f"{where}[{index}]", "must be a non-empty string")
        if len(tag) > MAX_TAG:
            raise invalid(f"{where}[{index}]", f"longer than {MAX_TAG} characters")
    return list(value)


def _actions(value: Any, where: str) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(where, f"must be an array of objects, not {_type_name(value)}")
    if len(value) > MAX_ACTIONS:
        raise invalid(where, f"more than {MAX_ACTIONS} actions")
    result = []
    for index, action in enumerate(value):
        here = f"{where}[{index}]"
        if not isinstance(action, dict):
            raise invalid(here, "must be an object")
        for key in ("action", "title"):
            if not isinstance(action.get(key), str) or not action[key]:
                raise invalid(f"{here}.{key}", "required string")
        clean = {"action": action["action"][:64], "title": action["title"][:64]}
        url = opt_url(action, "url", here)
        if url:
            clean["url"] = url
        result.append(clean)
    return result


def parse_event(data: Any, where: str, *, now: _dt.datetime) -> NewEvent:
    """One wire event (DESIGN §4) into a :class:`NewEvent`. A missing ``id`` gets a fresh UUID."""
    if not isinstance(data, dict):
        raise invalid(where, f"must be an object, not {_type_name(data)}")
    event_id = data.get("id")
    if event_id is None:
        event_id = str(uuid.uuid4())
    elif not isinstance(event_id, str) or not event_id or len(event_id) > MAX_ID:
        raise invalid(f"{where}.id", f"must be a string of 1 to {MAX_ID} characters")
    title = data.get("title")
    if title is None:
        raise invalid(f"{where}.title", "required")
    if not isinstance(title, str):
        raise invalid(f"{where}.title", f"must be a string, not {_type_name(title)}")
    if not title.strip():
        raise invalid(f"{where}.title", "must not be empty")
    if len(title) > MAX_TITLE:
        raise invalid(f"{where}.title", f"longer than {MAX_TITLE} characters")
    ts_raw = data.get("ts")
    if ts_raw is None:
        ts = now
    elif isinstance(ts_raw, str):
        try:
            ts = parse_ts(ts_raw)
        except ValueError:
            raise invalid(f"{where}.ts", "must be an RFC 3339 timestamp") from None
    else:
        raise invalid(f"{where}.ts", f"must be an RFC 3339 string, not {_type_name(ts_raw)}")
    level_raw = data.get("level", "info")
    if not isinstance(level_raw, str | int) or isinstance(level_raw, bool):
        raise invalid(f"{where}.level", f"must be a level name or number, not {_type_name(level_raw)}")
    try:
        level = parse_level(level_raw)
    except ValueError as exc:
        raise invalid(f"{where}.level", str(exc)) from None
    count = data.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise invalid(f"{where}.count", "must be a positive integer")
    push_raw = data.get("push")
    if push_raw is not None and not isinstance(push_raw, bool):
        raise invalid(f"{where}.push", f"must be true, false or null, not {_type_name(push_raw)}")
    push = push_raw if push_raw is not None else POLICIES[level].push
    repeat_of = data.get("repeat_of")
    if repeat_of is not None:
        if not isinstance(repeat_of, str) or not repeat_of or len(repeat_of) > MAX_ID:
            raise invalid(f"{where}.repeat_of", f"must be an event id (a string of 1 to {MAX_ID} characters)")
        if repeat_of == event_id:
            raise invalid(f"{where}.repeat_of", "must name another event, not the event's own id")
        push = False  # a follow-up reports repeats of something already pushed: never pushed itself
    source = data.get("source") or {}
    if not isinstance(source, dict):
        raise invalid(f"{where}.source", f"must be an object, not {_type_name(source)}")
    if len(json.dumps(source, ensure_ascii=False)) > MAX_SOURCE_BYTES:
        raise invalid(f"{where}.source", f"larger than {MAX_SOURCE_BYTES} characters as JSON")
    return NewEvent(
        id=event_id,
        ts=ts,
        level=level,
        title=title,
        body=opt_str(data, "body", where, limit=MAX_BODY),
        channel=opt_str(data, "channel", where, limit=MAX_CHANNEL) or None,
        tags=_tags(data.get("tags"), f"{where}.tags"),
        link=opt_url(data, "link", where),
        image=opt_url(data, "image", where),
        actions=_actions(data.get("actions"), f"{where}.actions"),
        metadata=_metadata(data.get("metadata"), f"{where}.metadata"),
        fingerprint=opt_str(data, "fingerprint", where, limit=MAX_FINGERPRINT),
        count=count,
        push=push and POLICIES[level].push,
        source=dict(source),
        repeat_of=repeat_of,
    )


def parse_batch(body: Any, *, now: _dt.datetime, max_events: int) -> list[NewEvent]:
    """The ``{"events": [...]}`` envelope of ``POST /v1/events``."""
    if not isinstance(body, dict):
        raise invalid("body", f"must be an object with an 'events' array, not {_type_name(body)}")
    items = body.get("events")
    if items is None:
        raise invalid("events", "required")
    if not isinstance(items, list):
        raise invalid("events", f"must be an array, not {_type_name(items)}")
    if len(items) > max_events:
        raise invalid("events", f"more than {max_events} events in one request")
    client = body.get("client")
    if client is not None and not isinstance(client, dict):
        raise invalid("client", f"must be an object, not {_type_name(client)}")
    return [parse_event(item, f"events[{index}]", now=now) for index, item in enumerate(items)]
