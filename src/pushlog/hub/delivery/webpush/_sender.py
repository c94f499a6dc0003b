"""The Web Push sender: one encrypted, VAPID-signed POST per message over a shared HTTP client.

:class:`WebPushSender` implements the :class:`~pushlog.hub.delivery._base.Sender` protocol for
``kind="webpush"`` devices. Every request carries an explicit ``TTL``, the ``Urgency`` the dispatcher
chose from the level (DESIGN §2), a ``Topic`` derived from the collapse key when there is one, the
VAPID ``Authorization`` (cached per push-service origin) and an aes128gcm body of at most 4096 bytes.

All sends share one httpx transport, :class:`~._transport.LeanTransport` (HTTP/1.1 keep-alive,
pooled per origin; several times cheaper than httpx's default transport for this traffic), called
with ``httpx.Request`` objects carrying explicit timeouts; a semaphore bounds how many requests are
in flight. ``http2=True`` (or an injected ``client``) sends through an ``httpx.AsyncClient`` instead.

The sender never raises for a delivery problem: every outcome, including transport errors and bad
subscription keys, comes back as a :class:`~pushlog.hub.delivery._base.SendResult`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from .._base import Outcome, PushMessage, SendResult, WebPushTarget
from ._encrypt import SubscriptionKeyError, encrypt, fit_payload
from ._status import classify
from ._topic import topic_for
from ._transport import LeanTransport
from ._vapid import VapidSigner

URGENCIES = frozenset({"very-low", "low", "normal", "high"})
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=30.0)


class WebPushSender:
    """Send :class:`PushMessage` objects to Web Push subscriptions.

    ``client`` may be passed in (tests, or to share one; the caller closes it). Otherwise the sender
    owns its transport (``max_concurrency`` connections per origin, ``timeout`` on every request)
    and closes it in :meth:`aclose`.
    """

    def __init__(
        self,
        signer: VapidSigner,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_concurrency: int = 32,
        http2: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._signer = signer
        self._clock = clock
        self._owns_client = client is None
        # The hot path: one shared LeanTransport called directly with httpx Request objects. Going
        # through AsyncClient.send as well (cookie jar, auth and redirect flow, hooks) cost as much
        # CPU per push as the whole transport, measured in benchmarks/bench_fanout.py.
        self._transport: LeanTransport | None = None
        self._client: httpx.AsyncClient | None = client
        if client is None and http2:
            limits = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
            self._client = httpx.AsyncClient(
                timeout=timeout, http2=True, limits=limits, follow_redirects=False
            )
        elif client is None:
            self._transport = LeanTransport(max_per_origin=max_concurrency)
        self._extensions = {"timeout": timeout.as_dict()}
        self._slots = asyncio.Semaphore(max_concurrency)

    @property
    def signer(self) -> VapidSigner:
        return self._signer

    def build_request(self, target: WebPushTarget, message: PushMessage) -> tuple[dict[str, str], bytes]:
        """Headers and encrypted body for one message (raises ValueError on bad input)."""
        if message.urgency not in URGENCIES:
            raise ValueError(f"invalid Urgency {message.urgency!r}")
        if message.ttl < 0:
            raise ValueError(f"TTL must be >= 0, got {message.ttl}")
        plaintext = fit_payload(message.payload)
        body = encrypt(plaintext, p256dh=target.p256dh, auth=target.auth)
        headers = {
            "TTL": str(int(message.ttl)),
            "Urgency": message.urgency,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self._signer.authorization(target.endpoint),
        }
        topic = topic_for(message.collapse_key)
        if topic:
            headers["Topic"] = topic
        return headers, body

    async def send(self, target: Any, message: PushMessage) -> SendResult:
        if not isinstance(target, WebPushTarget):
            kind = type(target).__name__
            return SendResult(outcome=Outcome.FAILED, detail=f"not a Web Push target: {kind}")
        try:
            headers, body = self.build_request(target, message)
        except SubscriptionKeyError as exc:
            return SendResult(outcome=Outcome.FAILED, detail=f"bad subscription keys: {exc}")
        except ValueError as exc:
            return SendResult(outcome=Outcome.FAILED, detail=str(exc))
        async with self._slots:
            try:
                if self._transport is not None:
                    request = httpx.Request(
                        "POST", target.endpoint, headers=headers, content=body, extensions=self._extensions
                    )
                    response = await self._transport.handle_async_request(request)
                else:
                    assert self._client is not None
                    response = await self._client.post(target.endpoint, content=body, headers=headers)
            except httpx.TimeoutException as exc:
                return SendResult(outcome=Outcome.RETRY, detail=f"timed out: {type(exc).__name__}")
            except httpx.HTTPError as exc:
                detail = f"transport error: {type(exc).__name__}: {exc}"
                return SendResult(outcome=Outcome.RETRY, detail=detail)
        return classify(response.status_code, response.headers, response.text, now=self._clock)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
        elif self._owns_client and self._client is not None:
            await self._client.aclose()
