"""Delivery: the durable outbox dispatcher and the push senders.

``start_delivery`` is the seam between the API (which writes outbox rows) and delivery (which sends
them). This placeholder does nothing; the dispatcher replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DeliveryService:
    """Placeholder until the dispatcher lands: accepts wake-ups, sends nothing."""

    def wake(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def start_delivery(
    *,
    engine: Any,
    config: Any,
    clock: Any = None,
    senders: Mapping[str, Any] | None = None,
) -> DeliveryService:
    return DeliveryService()
