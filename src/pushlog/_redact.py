"""Secret masking, applied before an event leaves the process (to the hub, the spool or a capture).

Two rules, both on by default:

* **keys**: a metadata key (at any depth) whose normalised name contains one of the sensitive words
  (``password``, ``secret``, ``token``, ``authorization``, ``cookie``, ``api_key`` …) has its value
  replaced by :data:`MASK`.
* **values**: text that looks like a bearer token, a JWT, a ``key=value`` credential pair or a payment
  card number (13-19 digits passing the Luhn check) is masked wherever it appears: title, body,
  metadata values, link.

Both lists can be extended (``redact_keys=``, ``redact_patterns=``) or the whole thing switched off
(``redact=False``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from ._event import Event

MASK: Final = "[redacted]"

#: Substrings of metadata keys whose values are masked (compared lowercase, ``-`` and spaces as ``_``).
DEFAULT_KEYS: Final[tuple[str, ...]] = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "authorization",
    "auth_header",
    "cookie",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "credential",
    "session_id",
    "sessionid",
    "csrf",
    "dsn",
)

_BEARER = r"(?i)\b(?:bearer|basic|token)\s+[A-Za-z0-9\-._~+/]{8,}=*"
_JWT = r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"
_PAIR = (
    r"(?i)\b(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|authorization)"
    r"(?P<sep>\s*[=:]\s*)(?P<q>[\"']?)[^\s\"'&,;]{3,}"
)
_CARD = r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"  # not inside hex ids (trace, Sentry event ids)

_CARD_RE: Final = re.compile(_CARD)
_PAIR_RE: Final = re.compile(_PAIR)


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (payment card numbers do)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return MASK if luhn_ok(digits) else match.group(0)


def _mask_pair(match: re.Match[str]) -> str:
    text = match.group(0)
    cut = match.start("q") - match.start(0) + len(match.group("q"))
    return text[:cut] + MASK


class Redactor:
    """Masks secrets in events. Thread-safe (no mutable state after construction)."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        keys: Iterable[str] = (),
        patterns: Iterable[str] = (),
    ) -> None:
        self.enabled = enabled
        self._keys = tuple(DEFAULT_KEYS) + tuple(_normalise(k) for k in keys)
        try:
            self._patterns = tuple(re.compile(p) for p in (_BEARER, _JWT, *patterns))
        except re.error as exc:
            raise ValueError(f"bad redact pattern: {exc}") from None
        self._key_cache: dict[str, bool] = {}

    def sensitive_key(self, key: str) -> bool:
        """Whether a metadata key names a secret."""
        hit = self._key_cache.get(key)
        if hit is None:
            norm = _normalise(key)
            hit = any(word in norm for word in self._keys)
            if len(self._key_cache) < 4096:
                self._key_cache[key] = hit
        return hit

    def text(self, value: str) -> str:
        """Mask secret-looking substrings of ``value``."""
        if not self.enabled or not value:
            return value
        for pattern in self._patterns:
            value = pattern.sub(MASK, value)
        value = _PAIR_RE.sub(_mask_pair, value)
        if any(c.isdigit() for c in value):
            value = _CARD_RE.sub(_mask_card, value)
        return value

    def value(self, value: Any, depth: int = 0) -> Any:
        """Mask inside a metadata value (strings, lists and dicts, recursively)."""
        if isinstance(value, str):
            return self.text(value)
        if depth > 6:
            return value
        if isinstance(value, dict):
            return {
                k: (MASK if isinstance(k, str) and self.sensitive_key(k) else self.value(v, depth + 1))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.value(v, depth + 1) for v in value]
        return value

    def event(self, event: Event) -> Event:
        """Mask secrets in ``event`` in place and return it. Idempotent."""
        if not self.enabled:
            return event
        event.title = self.text(event.title) or MASK
        if event.body:
            event.body = self.text(event.body)
        if event.link:
            event.link = self.text(event.link)
        if event.metadata:
            event.metadata = self.value(event.metadata)
        return event


def _normalise(key: str) -> str:
    return key.strip().lower().replace("-", "_").replace(" ", "_")
