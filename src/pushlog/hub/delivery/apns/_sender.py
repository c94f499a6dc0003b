"""The APNs sender: ``POST /3/device/<token>`` over one multiplexed HTTP/2 connection.

:class:`ApnsSender` implements the :class:`~pushlog.hub.delivery._base.Sender` protocol for
``kind="apns"`` devices. APNs speaks HTTP/2 only, so the sender's httpx client has ``http2=True`` and
talks TLS (over plain http httpx would silently fall back to HTTP/1.1); concurrent sends become streams
of one connection. Every request carries ``authorization: bearer <provider JWT>``
(:class:`~._token.ProviderToken`, reused 50 minutes) and the headers and payload :mod:`._payload`
renders from the message (``aps`` with alert, sound, interruption level, category and mutable-content;
the rich fields as custom keys; fitted to 4096 bytes). Answers are
classified by :func:`~._status.classify`; an ExpiredProviderToken renews the token and resends once.
"""

from __future__ import annotations

import functools
import json
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any, Final

import httpx

from .._base import ApnsTarget, Outcome, Prepared, PushMessage, SendResult, Target, send
from . import _payload
from ._status import CONFIG_REASONS, classify, reason_of
from ._token import ProviderToken

log = logging.getLogger("pushlog.hub.delivery.apns")

HOSTS: Final = {
    "production": "https://api.push.apple.com",
    "sandbox": "https://api.sandbox.push.apple.com",
}
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)


class ApnsSender:
    """Send :class:`PushMessage` objects to APNs device tokens of one app (``topic``).

    ``base_url`` overrides the environment's host (a stand-in in tests); ``ssl_context`` the TLS trust
    (default: the system's, through httpx). ``client`` may be injected (the caller closes it; it must
    have HTTP/2 enabled).
    """

    def __init__(
        self,
        token: ProviderToken,
        *,
        topic: str,
        environment: str = "production",
        critical_entitled: bool = False,
        base_url: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        if environment not in HOSTS:
            raise ValueError(f"APNs environment must be production or sandbox, not {environment!r}")
        self._token = token
        self._topic = topic
        self._critical = critical_entitled
        self._base = (base_url or HOSTS[environment]).rstrip("/")
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            http2=True, verify=ssl_context or True, timeout=timeout, follow_redirects=False
        )
        self._clock = clock
        self._reported: set[str] = set()

    def build_request(self, target: ApnsTarget, message: PushMessage) -> tuple[dict[str, str], bytes]:
        """Headers (without authorization) and the fitted JSON body for one notification."""
        body = _payload.render(message, critical_entitled=self._critical)
        return _payload.headers(message, topic=self._topic, now=self._clock()), body

    def _report_once(self, reason: str, detail: str) -> None:
        if reason not in self._reported:
            self._reported.add(reason)
            log.error("APNs configuration error (reported once; every message it hits fails): %s", detail)

    async def prepare(self, target: Target, message: PushMessage) -> Prepared | SendResult:
        """The request's URL, headers and body, ready to post (or FAILED for a bad target or message)."""
        if not isinstance(target, ApnsTarget):
            return SendResult(outcome=Outcome.FAILED, detail=f"not an APNs target: {type(target).__name__}")
        try:
            headers, body = self.build_request(target, message)
        except ValueError as exc:
            return SendResult(outcome=Outcome.FAILED, detail=str(exc))
        return Prepared(functools.partial(self._send_request, target, headers, body))

    async def send(self, target: Target, message: PushMessage) -> SendResult:
        """:meth:`prepare` and post at once."""
        return await send(self, target, message)

    async def _send_request(self, target: ApnsTarget, headers: dict[str, str], body: bytes) -> SendResult:
        url = f"{self._base}/3/device/{target.token}"
        bearer = self._token.current()
        try:
            status, answer, response_headers = await self._post(url, headers, body, bearer)
            if status == 403 and reason_of(answer)[0] == "ExpiredProviderToken":
                bearer = self._token.renew(bearer)
                status, answer, response_headers = await self._post(url, headers, body, bearer)
        except httpx.HTTPError as exc:
            return SendResult(outcome=Outcome.RETRY, detail=f"transport error: {type(exc).__name__}: {exc}")
        result = classify(
            status, response_headers, answer, registered_at=target.registered_at, now=self._clock
        )
        reason = reason_of(answer)[0]
        if result.outcome is Outcome.FAILED and (reason in CONFIG_REASONS or reason == "BadDeviceToken"):
            self._report_once(reason, result.detail)
        return result

    async def _post(
        self, url: str, headers: dict[str, str], body: bytes, bearer: str
    ) -> tuple[int, Any, httpx.Headers]:
        response = await self._client.post(
            url, content=body, headers={**headers, "authorization": f"bearer {bearer}"}
        )
        try:
            answer: Any = json.loads(response.content) if response.content else None
        except ValueError:
            answer = None
        return response.status_code, answer, response.headers

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
