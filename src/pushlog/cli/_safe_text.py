"""Text from the hub made safe for a terminal: control characters are shown, never obeyed.

Event titles, bodies, metadata and heartbeat names are written by whoever holds a publish key. Written
raw, an ``ESC`` sequence in them could retitle the terminal, erase lines or move the cursor; a
carriage return or a bidirectional override could make a line read as something else. Every place
``pushlog tail`` shows hub text (plain lines, JSON lines, the Textual app) goes through here.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

#: C0 controls but tab and newline, DEL, C1 controls, and the bidirectional marks and overrides.
_UNSAFE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: What ``json.dumps(ensure_ascii=False)`` leaves unescaped of the above (it escapes C0 itself).
_UNSAFE_IN_JSON: Final = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every unsafe character written as an escape (``\\x1b``, ``\\u202e``)."""
    return _UNSAFE.sub(_escape, text)


def json_line(value: Any) -> str:
    """Compact JSON of ``value`` (non-ASCII kept readable) with no raw control character in it.

    The result decodes to exactly ``value``: unsafe characters can only occur inside JSON strings,
    where ``\\uXXXX`` means the same character.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


__all__ = ["json_line", "visible"]
