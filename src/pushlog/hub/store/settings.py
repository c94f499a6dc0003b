"""The ``settings`` table: hub secrets and facts as key/value text.

Names other parts rely on are constants here: the delivery side reads the VAPID private key PEM
(:data:`VAPID_PRIVATE_KEY`) and the receipt secret (:data:`RECEIPT_SECRET`).
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from ._tables import settings

VAPID_PRIVATE_KEY: Final = "vapid_private_key_pem"
RECEIPT_SECRET: Final = "receipt_secret"


def get_setting(conn: sa.Connection, key: str) -> str | None:
    return conn.execute(sa.select(settings.c.value).where(settings.c.key == key)).scalar_one_or_none()


def set_setting_if_missing(conn: sa.Connection, key: str, value: str) -> str:
    """Store ``value`` under ``key`` unless a value exists; return the value now stored."""
    current = get_setting(conn, key)
    if current is not None:
        return current
    conn.execute(settings.insert().values(key=key, value=value))
    return value
