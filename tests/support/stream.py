"""Reading the hub's live stream (``GET /v1/stream``, Server-Sent Events) in tests: a reader thread
puts each message on a queue, so a test waits with a deadline instead of blocking on the socket."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from tests.support.hub_server import ThreadHub


@dataclass
class Message:
    event: str
    id: str | None
    data: dict[str, Any] | None
    comment: str | None = None


class StreamReader:
    """Reads an SSE response on a thread into a queue so tests can wait with a deadline."""

    def __init__(self, response: httpx.Response) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        self._response = response
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self._response.iter_lines():
                if line == "":
                    if "event" in fields or "data" in fields:
                        data = json.loads(fields["data"]) if "data" in fields else None
                        self.messages.put(Message(fields.get("event", "message"), fields.get("id"), data))
                    fields = {}
                elif line.startswith(":"):
                    self.messages.put(Message("comment", None, None, line[1:].strip()))
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
        except httpx.HTTPError:
            pass

    def next(self, *, kinds: tuple[str, ...] = ("event", "ack"), timeout: float = 10.0) -> Message:
        while True:
            message = self.messages.get(timeout=timeout)
            if message.event in kinds:
                return message

    def events(self, count: int, timeout: float = 10.0) -> list[Message]:
        return [self.next(kinds=("event",), timeout=timeout) for _ in range(count)]


@contextmanager
def open_stream(
    hub: ThreadHub, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> Iterator[StreamReader]:
    with (
        hub.client(hub.read_key, timeout=httpx.Timeout(10.0, read=30.0)) as client,
        client.stream("GET", "/v1/stream", params=params, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield StreamReader(response)
