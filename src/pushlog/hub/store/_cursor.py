"""Page cursors: opaque to clients, self-contained for the hub.

A cursor carries the position of the last row a page showed (the ordering key's values), so the next
page is found from the cursor alone, even when that row has been deleted since (retention). It is
URL-safe base64 of ``<kind><part>|<part>...``; ``kind`` (one letter) tells which list gave it, so a
cursor from one list handed to another is refused rather than misread.
"""

from __future__ import annotations

import base64
import binascii

#: Separates the parts of a cursor (never inside a part: parts are digits and hub-made ids).
_SEP = "|"


def encode(kind: str, *parts: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}{_SEP.join(parts)}".encode()).rstrip(b"=").decode()


def decode(kind: str, cursor: str, count: int) -> list[str]:
    """The ``count`` parts of a cursor of ``kind``; :class:`ValueError` if it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("malformed cursor") from None
    parts = text[len(kind) :].split(_SEP)
    if not text.startswith(kind) or len(parts) != count or not all(parts):
        raise ValueError("malformed cursor")
    return parts
