"""A Web Push subscription body for device registration tests (keys valid for the hub's checks)."""

from __future__ import annotations

from typing import Any

#: An uncompressed P-256 public key and a 16-byte auth secret, base64url (RFC 8291's example shapes).
P256DH = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
AUTH = "BTBZMqHH6r4Tts7J_aSIgg"


def subscription(endpoint: str, **keys: str) -> dict[str, Any]:
    """``{"endpoint", "keys": {"p256dh", "auth"}}`` with ``keys`` overriding either key."""
    return {"endpoint": endpoint, "keys": {"p256dh": P256DH, "auth": AUTH, **keys}}
