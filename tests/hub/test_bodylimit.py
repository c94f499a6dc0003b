"""BodyLimitMiddleware: oversized bodies never reach the app and are not kept in memory."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from pushlog.hub._bodylimit import BodyLimitMiddleware

CHUNK = 64 * 1024


def scope(headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/v1/events",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "query_string": b"",
    }


class Feed:
    """An ASGI receive() that hands out ``total`` bytes in chunks and counts what was taken."""

    def __init__(self, total: int, chunk: int = CHUNK) -> None:
        self.left = total
        self.taken = 0
        self.chunk = chunk
        self.finished = False

    async def __call__(self) -> dict[str, Any]:
        if self.finished:  # a real server would block here until the client disconnects
            raise AssertionError("receive() called after the whole body was delivered")
        size = min(self.chunk, self.left)
        self.finished = self.left == size
        self.left -= size
        self.taken += size
        return {"type": "http.request", "body": b"x" * size, "more_body": self.left > 0}


class Sent:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def json(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.messages[1:]))


async def test_declared_oversize_is_drained_in_chunks_and_the_app_never_runs() -> None:
    calls: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append("app")

    total = 10 * 1024 * 1024
    feed, sent = Feed(total), Sent()
    await BodyLimitMiddleware(app, max_bytes=1_000_000)(scope({"content-length": str(total)}), feed, sent)
    assert calls == []
    assert sent.status == 413
    assert sent.json["error"]["code"] == "request_too_large"
    assert feed.taken == total  # drained (so the client can read the 413), chunk by chunk


async def test_undeclared_length_stops_the_app_at_the_limit() -> None:
    seen: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = await request.body()  # would buffer everything without the limit
        seen.append(len(body))
        await JSONResponse({"ok": True})(scope, receive, send)

    feed, sent = Feed(5 * 1024 * 1024), Sent()
    await BodyLimitMiddleware(app, max_bytes=200_000)(scope({}), feed, sent)
    assert seen == []
    assert sent.status == 413


async def test_bodies_within_the_limit_pass_through() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = await Request(scope, receive).body()
        await JSONResponse({"size": len(body)})(scope, receive, send)

    feed, sent = Feed(150_000), Sent()
    await BodyLimitMiddleware(app, max_bytes=200_000)(scope({"content-length": "150000"}), feed, sent)
    assert sent.status == 200
    assert sent.json == {"size": 150_000}


async def test_a_final_chunk_crossing_the_limit_is_answered_without_waiting_for_more() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await Request(scope, receive).body()

    feed, sent = Feed(20_000, chunk=20_000), Sent()  # one message, more_body=False, over the limit
    await BodyLimitMiddleware(app, max_bytes=10_000)(scope({}), feed, sent)
    assert sent.status == 413
