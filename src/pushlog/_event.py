"""The event: what the client sends and the hub stores (DESIGN §4).

Wire form (JSON, one object per event inside ``{"events": [...]}``)::

    {
      "id": "0b6c…-uuid4",            # client-made, the idempotency key
      "ts": "2026-11-21T07:12:43.123456Z",
      "level": "warning",             # debug | info | warning | error | critical
      "title": "Payment failed",      # required, non-empty
      "body": "card declined" | null,
      "channel": "payments" | null,
      "tags": ["billing"],
      "link": "https://…" | null,
      "image": "https://…" | null,
      "actions": [{"action": "open", "title": "Open", "url": "https://…"}],
      "metadata": {"user_id": 42, "trace_id": "…"},
      "fingerprint": "9f2c…" | null,  # dedup key; also the hub's collapse key
      "count": 1,                     # occurrences this event stands for after dedup
      "push": true,                   # false: feed only (level below WARNING, or rate-limited)
      "source": {"logger": "app.pay", "module": "pay:42", "host": "web-1", "pid": 123},
      "repeat_of": "<id of the first event>",  # only on dedup follow-ups (absent otherwise)
      "resolves": "payments-gateway"          # only when set: the fingerprint of an alert it resolves
    }

``push`` is pushlog's addition to the DESIGN §4 field list: the client's rate limiter downgrades an
event to feed-only without lying about its level. When absent it follows the level (WARNING and up).
The envelope may carry ``"client": {"dropped": n, "sdk": "pushlog/x.y"}`` so drops reach the hub.

``resolves`` (the reserved keyword of the same name) names the fingerprint of an earlier alert this
event ends: the hub marks that alert resolved and replaces its notification in place (docs/rules.md).

``repeat_of`` marks a dedup follow-up (see :mod:`pushlog._dedup`): it names the id of the first
occurrence, ``count`` is the number of repeats it reports (not counting the first), ``push`` is false
and its own ``id`` is a fresh idempotency key. The hub adds ``count`` to the first event's count in
the same transaction that stores the follow-up, so a storm is one feed line with ``count`` N; a retried
follow-up is a duplicate by its id and adds nothing. When the hub does not know the first event
(rejected, dropped, or not yet arrived) the follow-up is stored as an ordinary feed line.
"""

from __future__ import annotations

import itertools
import os
import threading
import time

from ._levels import POLICIES, Level, parse_level

TYPE_CHECKING = False  # without importing typing: see _lean_typing.py
if TYPE_CHECKING:
    import datetime as _dt
    from typing import Any, Final

#: Keyword arguments of log()/notify()/critical() and keys of ``extra=`` that are event fields,
#: not metadata (DESIGN §3).
RESERVED_KEYS: Final[frozenset[str]] = frozenset(
    {"body", "channel", "tags", "link", "image", "actions", "fingerprint", "resolves"}
)

#: Size limits shared by client (truncates) and hub (rejects beyond them). Lengths are characters;
#: a metadata value is measured by :func:`metadata_value_length`.
MAX_ID: Final = 64
MAX_TITLE: Final = 256
MAX_BODY: Final = 8_192
MAX_CHANNEL: Final = 64
MAX_TAG: Final = 64
MAX_TAGS: Final = 32
MAX_URL: Final = 2_048
MAX_ACTIONS: Final = 4
#: ``action`` and ``title`` of an action button (longer ones are cut, not refused).
MAX_ACTION_TEXT: Final = 64
MAX_METADATA_KEYS: Final = 64
MAX_METADATA_KEY: Final = 128
MAX_METADATA_VALUE: Final = 1_024
#: Levels of arrays/objects inside one metadata value (deeper ones the client writes as text).
MAX_METADATA_DEPTH: Final = 4
#: ``source`` as JSON text (characters).
MAX_SOURCE: Final = 4_096
MAX_FINGERPRINT: Final = 128
#: Occurrences one event (or one dedup follow-up) may stand for: what a 32-bit column holds.
MAX_COUNT: Final = 2**31 - 1
TRUNCATION_MARKER: Final = "…[truncated]"


def metadata_value_length(value: Any) -> int:
    """The length of a metadata value as measured against :data:`MAX_METADATA_VALUE`: a string's
    number of characters, anything else the length of its JSON text (``ensure_ascii=False``).

    The client cuts strings with :func:`truncate`, so a cut string is exactly at the limit; counting
    the quotes or escapes of its JSON form would refuse what the client made."""
    if isinstance(value, str):
        return len(value)
    if value is None or isinstance(value, bool | int | float):
        return len(repr(value))
    import json  # loaded by the first client (redaction) in practice; not by import pushlog

    return len(json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str))


def _random_bits(n: int) -> int:
    """``n`` random bits from the OS (the ``random`` module is not loaded for this)."""
    return int.from_bytes(os.urandom((n + 7) // 8)) >> (-n % 8)


class _EventIds:
    """Version 4 UUID strings made cheaply: 70 random bits per process (re-drawn after ``fork``) and a
    48-bit counter. Unique within a process by construction and across processes with overwhelming
    probability; ids need uniqueness, not secrecy. About a quarter of the cost of :func:`uuid.uuid4`."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        h = "%032x" % (_random_bits(128) & _CLEAR | _SET)
        self._prefix = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-"
        # next() is atomic under the GIL. The counter runs above 2**48 so that hex() of it is "0x1"
        # and then exactly 12 digits (the 48-bit part): cheaper than a format spec, per event.
        self._counter = itertools.count(1 << 48 | _random_bits(40))

    def __call__(self) -> str:
        return self._prefix + hex(next(self._counter))[3:]


_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))  # version nibble and variant bits
_SET: Final = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant

_new: Final = object.__new__


class _CompletingLock:
    """The lock of :meth:`Event.complete`, made anew in a forked child (it may have been held)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        os.register_at_fork(after_in_child=self._renew)

    def _renew(self) -> None:
        self.lock = threading.Lock()


_COMPLETING: Final = _CompletingLock()

#: ``new_event_id() -> str``: a fresh event id (a UUID string), the hub's idempotency key.
new_event_id: Final = _EventIds()


# ``datetime`` loads where a timestamp is first made into or read from a datetime (on the worker, for
# the wire form), not with ``import pushlog`` (2-5 ms of CPU on a slow machine): the logging thread
# keeps ``LogRecord.created`` or ``time.time()``, a float, and :attr:`Event.ts` converts it when read.
# Once loaded, each ``import`` below is a ``sys.modules`` lookup, about 0.3 µs on the worker per event.


def now_utc() -> _dt.datetime:
    import datetime as _dt

    return _dt.datetime.now(_dt.UTC)


def utc_from_timestamp(ts: float) -> _dt.datetime:
    """The aware UTC datetime of a POSIX timestamp (raises as :meth:`datetime.fromtimestamp` does)."""
    import datetime as _dt

    return _dt.datetime.fromtimestamp(ts, _dt.UTC)


def format_ts(moment: _dt.datetime) -> str:
    """RFC 3339 in UTC with microseconds and a ``Z``."""
    import datetime as _dt

    if moment.tzinfo is not _dt.UTC:
        moment = moment.astimezone(_dt.UTC)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" -> "Z"; faster than strftime


def parse_ts(text: str) -> _dt.datetime:
    """Parse an RFC 3339 timestamp; naive times are taken as UTC."""
    import datetime as _dt

    moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment.astimezone(_dt.UTC)


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with :data:`TRUNCATION_MARKER`."""
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(TRUNCATION_MARKER))
    return text[:keep] + TRUNCATION_MARKER


_FIELDS: Final = (
    "title", "level", "body", "channel", "tags", "link", "image", "actions", "metadata",
    "fingerprint", "count", "push", "source", "repeat_of", "resolves", "id", "ts",
)  # fmt: skip


class Event:
    """One event as the client builds it. :meth:`to_wire` gives the JSON-ready dict.

    Constructed with keywords only; every field but ``title`` has a default (a fresh ``id`` and the
    current time for ``ts``). Compares equal field by field and repr's every field, like a dataclass;
    written out by hand so that ``dataclasses`` (with ``inspect``, ``ast`` and ``dis``) stays out of
    ``import pushlog``. :meth:`replace` is ``dataclasses.replace`` for it.
    """

    __slots__ = (
        "_pending",
        "_ts",
        "actions",
        "body",
        "channel",
        "count",
        "fingerprint",
        "id",
        "image",
        "level",
        "link",
        "metadata",
        "push",
        "repeat_of",
        "resolves",
        "source",
        "tags",
        "title",
    )  # _FIELDS, with ts stored as _ts, and what is left to build

    title: str
    level: Level
    body: str | None
    channel: str | None
    tags: list[str]
    link: str | None
    image: str | None
    actions: list[dict[str, str]]
    metadata: dict[str, Any]
    fingerprint: str | None
    count: int
    push: bool | None
    source: dict[str, Any]
    repeat_of: str | None
    resolves: str | None
    id: str
    #: ``ts`` as given: a datetime, or a POSIX timestamp (``LogRecord.created``) that :attr:`ts` turns
    #: into one when first read, on the worker: the logging thread does not pay for the conversion.
    _ts: _dt.datetime | float
    #: ``None`` for a whole event; for one made by :meth:`pending`, ``(finish, ...)``: ``finish(event,
    #: pending)`` fills the fields left out, when :meth:`complete` is called (by the worker).
    _pending: tuple[Any, ...] | None

    def __init__(
        self,
        *,
        title: str,
        level: Level = Level.INFO,
        body: str | None = None,
        channel: str | None = None,
        tags: list[str] | None = None,
        link: str | None = None,
        image: str | None = None,
        actions: list[dict[str, str]] | None = None,
        metadata: dict[str, Any] | None = None,
        fingerprint: str | None = None,
        count: int = 1,
        push: bool | None = None,
        source: dict[str, Any] | None = None,
        repeat_of: str | None = None,
        resolves: str | None = None,
        id: str | None = None,
        ts: _dt.datetime | None = None,
    ) -> None:
        self.title, self.level, self.body, self.channel = title, level, body, channel
        self.tags = [] if tags is None else tags
        self.link, self.image = link, image
        self.actions = [] if actions is None else actions
        self.metadata = {} if metadata is None else metadata
        self.fingerprint, self.count, self.push = fingerprint, count, push
        self.source = {} if source is None else source
        self.repeat_of, self.resolves = repeat_of, resolves
        self.id = new_event_id() if id is None else id
        self._ts = time.time() if ts is None else ts  # a float until read (see now_utc)
        self._pending = None

    @property
    def ts(self) -> _dt.datetime:
        """When it happened (UTC)."""
        ts = self._ts
        if ts.__class__ is float:
            try:
                ts = self._ts = utc_from_timestamp(ts)
            except (OverflowError, OSError, ValueError):
                ts = self._ts = now_utc()
        return ts  # type: ignore[return-value]

    @ts.setter
    def ts(self, value: _dt.datetime) -> None:
        self._ts = value

    def replace(self, **changes: Any) -> Event:
        """A copy with ``changes`` applied (the containers are shared unless replaced)."""
        self.complete()
        event = _new(Event)
        event._pending = None
        for name in _FIELDS:
            setattr(event, name, changes[name] if name in changes else getattr(self, name))
        return event

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        self.complete(), other.complete()
        return all(getattr(self, name) == getattr(other, name) for name in _FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass with eq

    def __repr__(self) -> str:
        self.complete()
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS)
        return f"Event({fields})"

    @classmethod
    def quick(
        cls,
        title: str,
        level: Level,
        ts: _dt.datetime | float,
        body: str | None,
        fingerprint: str | None,
        source: dict[str, Any],
        metadata: dict[str, Any],
    ) -> Event:
        """An event with these fields and every other field at its default, built about twice as fast
        as ``__init__`` (which checks sixteen defaults): the logging
        thread builds one per record. The arguments are taken as given, not copied or checked; ``ts``
        may be a POSIX timestamp (converted when :attr:`ts` is first read)."""
        event = _new(cls)
        event.title, event.level, event._ts, event.body = title, level, ts, body
        event.fingerprint, event.source, event.metadata = fingerprint, source, metadata
        event.channel = event.link = event.image = event.push = event.repeat_of = event.resolves = None
        event.tags, event.actions, event.count, event.id = [], [], 1, new_event_id()
        event._pending = None
        return event

    @classmethod
    def pending(
        cls, level: Level, fingerprint: str | None, metadata: dict[str, Any], pending: tuple[Any, ...]
    ) -> Event:
        """An event with only what the client's queue, dedup window and push budget read (``level``,
        ``fingerprint``, ``metadata``, a fresh ``id``, ``count`` 1, ``push`` unset); ``pending`` is
        ``(finish, ...)`` and ``finish(event, pending)`` sets every other field when :meth:`complete`
        is called. The logging thread makes these; the worker completes them when it takes them from
        the queue, so building the rest of the event costs the logging thread nothing. Until then
        reading any other field raises ``AttributeError``."""
        event = _new(cls)
        event.level, event.fingerprint, event.metadata, event._pending = level, fingerprint, metadata, pending
        event.push, event.count, event.id = None, 1, new_event_id()
        return event

    def complete(self) -> Event:
        """Build the fields a :meth:`pending` event left out (a no-op on a whole event); returns it.

        The worker completes what it takes from the queue and then redacts it in place; a flush on
        another thread may complete the same event for a dedup report. One lock makes the build happen
        once, so a late second build can never overwrite redacted fields."""
        if self._pending is not None:
            with _COMPLETING.lock:
                pending = self._pending
                if pending is not None:
                    pending[0](self, pending)
                    self._pending = None
        return self

    @property
    def pushed(self) -> bool:
        """Whether the hub should push this event (explicit ``push`` or the level's default)."""
        if self.push is not None:
            return self.push
        return POLICIES[self.level].push

    def to_wire(self) -> dict[str, Any]:
        self.complete()
        wire: dict[str, Any] = {
            "id": self.id,
            "ts": format_ts(self.ts),
            "level": self.level.wire_name,
            "title": self.title,
            "body": self.body,
            "channel": self.channel,
            "tags": list(self.tags),
            "link": self.link,
            "image": self.image,
            "actions": [dict(a) for a in self.actions],
            "metadata": dict(self.metadata),
            "fingerprint": self.fingerprint,
            "count": self.count,
            "push": self.pushed,
            "source": dict(self.source),
        }
        if self.repeat_of is not None:
            wire["repeat_of"] = self.repeat_of
        if self.resolves is not None:
            wire["resolves"] = self.resolves
        return wire

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Event:
        """Rebuild an event from its wire form (used by the spool and by tests)."""
        return cls(
            id=str(data["id"]),
            ts=parse_ts(str(data["ts"])),
            level=parse_level(data.get("level", "info")),
            title=str(data["title"]),
            body=data.get("body"),
            channel=data.get("channel"),
            tags=list(data.get("tags") or []),
            link=data.get("link"),
            image=data.get("image"),
            actions=list(data.get("actions") or []),
            metadata=dict(data.get("metadata") or {}),
            fingerprint=data.get("fingerprint"),
            count=int(data.get("count", 1)),
            push=data.get("push"),
            source=dict(data.get("source") or {}),
            repeat_of=data.get("repeat_of"),
            resolves=data.get("resolves"),
        )
