"""The hub's JSON output: always valid JSON, whatever the database holds.

Every API answer and every Server-Sent Event goes through :func:`encode`. Values that JSON cannot
hold and that an older hub may have stored (``NaN``, infinities, lone surrogates) come out as
``null`` and U+FFFD instead of making every read of that row fail.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec
from starlette.responses import JSONResponse as _StarletteJSONResponse

_ENCODER: Final = msgspec.json.Encoder()  # NaN and infinities are written as null
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def encode(content: Any) -> bytes:
    """``content`` as UTF-8 JSON bytes (Structs, dicts, lists, scalars, datetimes)."""
    try:
        return _ENCODER.encode(content)
    except UnicodeEncodeError:
        return _ENCODER.encode(_scrub(msgspec.to_builtins(content, str_keys=True)))


class JSONResponse(_StarletteJSONResponse):
    """Starlette's JSON response, rendered by :func:`encode`."""

    def render(self, content: Any) -> bytes:
        return encode(content)
