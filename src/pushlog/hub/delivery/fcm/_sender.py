"""The FCM HTTP v1 sender: one ``messages:send`` request per token over one shared httpx client.

:class:`FcmSender` implements the :class:`~pushlog.hub.delivery._base.Sender` protocol for
``kind="fcm"`` devices. Each message is the ``messages:send`` body :mod:`._message` renders
(notification, string data, android/apns/webpush overrides, fitted to 4096 bytes).

Authorisation comes from :class:`~._oauth.AccessTokens`; a 401 UNAUTHENTICATED makes the sender drop
the cached token and try once more with a fresh one. Answers are classified by :func:`~._status.classify`;
configuration errors (SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR, a refused service account) are logged
once per reason, and every message they hit fails without retry. The sender never raises for a delivery
problem: timeouts and connection errors are ``RETRY``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import httpx

from .._base import FcmTarget, Outcome, Prepared, PushMessage, SendResult, Target, send
from ._message import render
from ._oauth import AccessTokens, CredentialsError, ServiceAccount
from ._status import CONFIG_ERRORS, classify, reason_of

log = logging.getLogger("pushlog.hub.delivery.fcm")

FCM_BASE_URL: Final = "https://fcm.googleapis.com"
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)


class FcmSender:
    """Send :class:`PushMessage` objects to FCM registration tokens of one Firebase project.

    ``base_url`` is FCM's origin (a stand-in's in tests); ``client`` may be injected (the caller closes
    it), otherwise the sender owns an HTTP/2 httpx client. ``clock`` (epoch seconds) drives token expiry
    and ``Retry-After`` dates.
    """

    def __init__(
        self,
        account: ServiceAccount,
        *,
        base_url: str = FCM_BASE_URL,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._account = account
        self._url = f"{base_url.rstrip('/')}/v1/projects/{account.project_id}/messages:send"
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(http2=True, timeout=timeout, follow_redirects=False)
        self._clock = clock
        self.tokens = AccessTokens(account, self._client, clock=clock)
        self._reported: set[str] = set()

    def _report_once(self, reason: str, detail: str) -> None:
        if reason not in self._reported:
            self._reported.add(reason)
            log.error("FCM configuration error (reported once; every message it hits fails): %s", detail)

    async def prepare(self, target: Target, message: PushMessage) -> Prepared | SendResult:
        """The rendered request body, ready to post (or FAILED for a bad target or message)."""
        if not isinstance(target, FcmTarget):
            return SendResult(outcome=Outcome.FAILED, detail=f"not an FCM target: {type(target).__name__}")
        try:
            body = render(target.token, message)  # sent as is: the bytes that were fitted
        except ValueError as exc:
            return SendResult(outcome=Outcome.FAILED, detail=str(exc))
        return Prepared(functools.partial(self._send_body, body))

    async def send(self, target: Target, message: PushMessage) -> SendResult:
        """:meth:`prepare` and post at once."""
        return await send(self, target, message)

    async def _send_body(self, body: bytes) -> SendResult:
        try:
            result, reason = await self._post(body, refreshed=False)
        except CredentialsError as exc:
            self._report_once("credentials", str(exc))
            return SendResult(outcome=Outcome.FAILED, detail=f"FCM configuration error: {exc}")
        except httpx.HTTPError as exc:
            return SendResult(outcome=Outcome.RETRY, detail=f"transport error: {type(exc).__name__}: {exc}")
        if result.outcome is Outcome.FAILED and reason in CONFIG_ERRORS:
            self._report_once(reason, result.detail)
        return result

    async def _post(self, body: bytes, *, refreshed: bool) -> tuple[SendResult, str]:
        """Send once (and once more with a fresh access token after a 401); the result and FCM's reason."""
        token = await self.tokens.token()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=UTF-8"}
        response = await self._client.post(self._url, content=body, headers=headers)
        try:
            answer: Any = response.json()
        except ValueError:
            answer = None
        reason = reason_of(answer)[0]
        if response.status_code == 401 and reason != "THIRD_PARTY_AUTH_ERROR" and not refreshed:
            self.tokens.invalidate(token)
            return await self._post(body, refreshed=True)
        return classify(response.status_code, response.headers, answer, now=self._clock), reason

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
