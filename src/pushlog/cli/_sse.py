"""A small Server-Sent Events parser (the WHATWG event-stream format), fed one line at a time.

It is transport-agnostic so the plain/JSON tail (sync httpx) and the Textual app (async httpx) share it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEMessage:
    """One dispatched message: ``event`` defaults to ``"message"``; ``id`` is the last seen id."""

    event: str
    data: str
    id: str | None


class SSEParser:
    """Feed lines (without their line terminator); :meth:`feed` returns a message when one completes.

    Comments (``: keepalive``) are ignored; ``retry:`` sets :attr:`retry_ms`; a message with no data
    lines is not dispatched, as the spec says.
    """

    def __init__(self) -> None:
        self.last_id: str | None = None
        self.retry_ms: int | None = None
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SSEMessage | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self.last_id = value
        elif field == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SSEMessage | None:
        if not self._data:
            self._event = ""
            return None
        message = SSEMessage(event=self._event or "message", data="\n".join(self._data), id=self.last_id)
        self._event = ""
        self._data = []
        return message
