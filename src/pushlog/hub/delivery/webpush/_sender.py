"""The Web Push sender: one encrypted, VAPID-signed POST per message over a shared aiohttp session.

:class:`WebPushSender` implements the :class:`~pushlog.hub.delivery._base.Sender` protocol for
``kind="webpush"`` devices. Every request carries an explicit ``TTL``, the ``Urgency`` the dispatcher
chose from the level (DESIGN §2), a ``Topic`` derived from the collapse key when there is one, the
VAPID ``Authorization`` (cached per push-service origin) and an aes128gcm body of at most 4096 bytes.

HTTP: all sends share one :class:`aiohttp.ClientSession` (the client pywebpush itself uses for async
sending) whose :class:`aiohttp.TCPConnector` keeps HTTP/1.1 keep-alive connections per push-service
origin, at most ``max_concurrency`` in all and per origin. The session is created lazily, inside the
running event loop, on the first send, and closed by :meth:`aclose`. TLS certificates are verified
against certifi's CA bundle (or the ``ssl_context`` given); redirects are never followed (a push
service does not redirect; a 3xx is reported as a failure). A semaphore of ``max_concurrency`` admits
requests before they reach aiohttp, so a fan-out of thousands queues in the sender and every request's
``timeout`` (connect, socket read, total) starts only when it really goes out.

A send is :meth:`WebPushSender.prepare` (payload, keys, headers, and the encryption: a fresh P-256
key and ECDH per message, about 0.2 ms of CPU) and then the returned
:class:`~pushlog.hub.delivery._base.Prepared`'s ``post``; at most ``ahead`` messages are prepared and
not yet posted (as many as request slots when encrypting on the loop, :data:`AHEAD_PER_SLOT` per slot
with a pool): a fan-out of thousands never encrypts them all before the first request leaves. The
dispatcher prepares an event's first pushes while the ingest commits and posts them after.
Encryption runs on the event loop unless an ``executor`` is given: measured here, a thread pool
gains nothing (``cryptography`` holds the GIL for nearly all of the work) and costs CPU in
hand-offs; a process pool (:class:`concurrent.futures.ProcessPoolExecutor`, owned by the caller;
the work sent to it is the module-level :func:`~._encrypt.encrypt_raw` with bytes and decoded keys)
moves the encryption to other cores, but its per-job hand-off (pickling, the pool's queue thread,
the result) costs the event loop about as much CPU as the encryption it saves, so the hub does not
make one (docs/performance.md).

The sender never raises for a delivery problem: every outcome, including timeouts, refused or dropped
connections, TLS failures and bad subscription keys, comes back as a
:class:`~pushlog.hub.delivery._base.SendResult`. Timeouts and connection errors are ``RETRY`` (the
dispatcher backs off and resends, also when a request raced the server closing an idle connection).

SSRF: unless ``allow_private_endpoints`` (the hub's development flag), every send re-checks the
endpoint with :func:`~pushlog.hub._endpoints.check_url` (https only, no private IP-literal or
``localhost`` host: aiohttp skips its resolver for IP literals; the answers for the last
:data:`CHECKED_ENDPOINTS` accepted URLs are remembered, since the check involves no DNS) and the
owned connector resolves through :class:`~._guard.PublicOnlyResolver`, which drops every
non-public address, so a host that re-resolves to 127.0.0.1, 10.x or 169.254.169.254 after
registration (DNS rebinding) is never connected to. A refused target is ``FAILED`` with a
``refused endpoint: ...`` detail and the device is kept: registration accepted it, so the cause is
DNS changing since, which may be a transient or split-horizon answer for a real push service;
removing devices on it would let one bad DNS answer unsubscribe every user of that service. An
injected ``session`` keeps its own connector: give it a ``PublicOnlyResolver`` if it may reach
untrusted endpoints.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import ssl
import time
from collections.abc import Callable

import aiohttp
import certifi
from aiohttp.abc import AbstractResolver
from yarl import URL

from ..._endpoints import EndpointError, check_url
from .._base import Outcome, Prepared, PushMessage, SendResult, Target, WebPushTarget, send
from ._encrypt import SubscriptionKeyError, encrypt_raw, parse_keys
from ._guard import PublicOnlyResolver, RefusedAddress
from ._payload import Renderer
from ._pool import EncryptBatcher
from ._status import classify
from ._topic import topic_for
from ._vapid import VapidSigner

_CLOSED = "transport error: the sender is closed"
URGENCIES = frozenset({"very-low", "low", "normal", "high"})
# connect: a connection for the request (pool wait + TCP/TLS set-up; the semaphore keeps the pool wait
# short); sock_connect: the TCP/TLS set-up alone; sock_read: silence between bytes of the answer;
# total: the whole request.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30.0, connect=10.0, sock_connect=5.0, sock_read=10.0)
# Idle keep-alive connections are dropped after this, before push services usually close them.
KEEPALIVE_SECONDS = 15.0
#: Bodies encrypted (or being encrypted) ahead of the request slots, per slot: with the default 32
#: slots, 256, the dispatcher's send window (``DeliveryService`` ``batch_size``), so a window's
#: refill reaches the encryption pool in one loop turn (a few large jobs) instead of trickling in as
#: slots free up (turns of a few messages, encrypted on the loop below ``INLINE_MAX``, one semaphore
#: wake-up each).
AHEAD_PER_SLOT = 8
#: Endpoints whose send-time check passed and is remembered with the parsed URL, and subscriptions
#: whose decoded keys are: neither answer ever changes for one string, so a fan-out to the same
#: devices parses each URL and decodes each key pair once, not once per message.
CHECKED_ENDPOINTS = 10_000


def checked_url(endpoint: str, *, allow_private: bool) -> URL:
    """``endpoint`` as aiohttp's parsed :class:`yarl.URL` once :func:`check_url` accepts it (raises
    :class:`EndpointError` otherwise): aiohttp takes the parsed URL as it is instead of parsing and
    encoding the string on every request."""
    check_url(endpoint, allow_private=allow_private)
    return URL(endpoint)


def default_ssl_context() -> ssl.SSLContext:
    """Certificate-verifying TLS with certifi's CA bundle (what the rest of pushlog uses via httpx)."""
    return ssl.create_default_context(cafile=certifi.where())


class WebPushSender:
    """Send :class:`PushMessage` objects to Web Push subscriptions.

    ``session`` may be passed in (tests, or to share one; the caller closes it, and its connector's
    limits and TLS settings apply). Otherwise the sender owns a session with ``max_concurrency``
    connections (in all and per origin) verifying TLS with ``ssl_context`` (default: certifi's CA
    bundle), and closes it in :meth:`aclose`. ``timeout`` applies to every request either way.

    ``allow_private_endpoints`` (default off) lifts the SSRF guard for local stand-in push services;
    ``resolver`` is the DNS resolver the guard wraps (default: aiohttp's), a seam for tests.
    """

    def __init__(
        self,
        signer: VapidSigner,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        max_concurrency: int = 32,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
        allow_private_endpoints: bool = False,
        resolver: AbstractResolver | None = None,
        executor: concurrent.futures.Executor | None = None,
        encrypt_workers: int = 0,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._signer = signer
        self._clock = clock
        self._timeout = timeout
        self._max = max_concurrency
        self._ssl = ssl_context
        self._session = session
        self._owns_session = session is None
        self._slots: asyncio.Semaphore | None = None
        self._closed = False
        self._allow_private = allow_private_endpoints
        self._resolver = resolver
        # A refused endpoint or bad key raises, and exceptions are not cached: it is checked (and
        # refused) every time.
        self._url = functools.lru_cache(maxsize=CHECKED_ENDPOINTS)(
            functools.partial(checked_url, allow_private=allow_private_endpoints)
        )
        self._keys = functools.lru_cache(maxsize=CHECKED_ENDPOINTS)(parse_keys)
        # Encryption off the event loop: on ``executor`` if given (its owner shuts it down), else on
        # a pool of ``encrypt_workers`` processes the sender owns; neither: on the loop.
        self._batcher: EncryptBatcher | None = None
        if executor is not None:
            self._batcher = EncryptBatcher(executor=executor, workers=max(1, encrypt_workers))
        elif encrypt_workers > 0:
            self._batcher = EncryptBatcher(workers=encrypt_workers)
        # Encrypting on the loop, a body is made only once its request can go (as many ahead as
        # slots); with a pool, a window's worth ahead, so a refill reaches it in a few large jobs.
        ahead = max_concurrency if self._batcher is None else AHEAD_PER_SLOT * max_concurrency
        self._ahead = asyncio.Semaphore(ahead)
        self._render = Renderer()  # a fan-out's content encoded once, not per device

    @property
    def signer(self) -> VapidSigner:
        return self._signer

    def build_request(self, target: WebPushTarget, message: PushMessage) -> tuple[dict[str, str], bytes]:
        """Headers and encrypted body for one message (raises ValueError on bad input)."""
        headers, plaintext, keys = self._prepare(target, message)
        return headers, encrypt_raw(plaintext, *keys)

    def _prepare(
        self, target: WebPushTarget, message: PushMessage
    ) -> tuple[dict[str, str], bytes, tuple[bytes, bytes]]:
        """Headers, the plaintext to encrypt and the subscription's decoded keys (raises ValueError on
        bad input)."""
        if message.urgency not in URGENCIES:
            raise ValueError(f"invalid Urgency {message.urgency!r}")
        if message.ttl < 0:
            raise ValueError(f"TTL must be >= 0, got {message.ttl}")
        plaintext = self._render(message)
        keys = self._keys(target.p256dh, target.auth)
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
        return headers, plaintext, keys

    async def _encrypt(self, plaintext: bytes, keys: tuple[bytes, bytes]) -> bytes:
        if self._batcher is None:
            return encrypt_raw(plaintext, *keys)
        return await self._batcher.encrypt(plaintext, keys)

    async def _body(
        self, target: WebPushTarget, message: PushMessage
    ) -> tuple[dict[str, str], bytes] | SendResult:
        """Headers and encrypted body, or the FAILED/RETRY result that stops this send."""
        try:
            headers, plaintext, keys = self._prepare(target, message)
            return headers, await self._encrypt(plaintext, keys)
        except SubscriptionKeyError as exc:
            return SendResult(outcome=Outcome.FAILED, detail=f"bad subscription keys: {exc}")
        except ValueError as exc:
            return SendResult(outcome=Outcome.FAILED, detail=str(exc))
        except RuntimeError:  # the encryption pool was shut down meanwhile
            return SendResult(outcome=Outcome.RETRY, detail=_CLOSED)

    def _open(self) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
        """The shared session and the admission semaphore, created on first use in the running loop."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max)
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max,
                limit_per_host=self._max,
                ssl=self._ssl or default_ssl_context(),
                keepalive_timeout=KEEPALIVE_SECONDS,
                resolver=self._resolver if self._allow_private else PublicOnlyResolver(self._resolver),
            )
            # No cookies (push services set none worth keeping); the body is never compressed.
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        return self._session, self._slots

    async def prepare(self, target: Target, message: PushMessage) -> Prepared | SendResult:
        """The checked URL, headers and encrypted body, ready to post; or the FAILED/RETRY result that
        stops this send. Holds one of the ``ahead`` places until the request is posted or discarded, so
        at most that many bodies wait for a request slot."""
        if not isinstance(target, WebPushTarget):
            kind = type(target).__name__
            return SendResult(outcome=Outcome.FAILED, detail=f"not a Web Push target: {kind}")
        try:
            url = self._url(target.endpoint)
        except EndpointError as exc:
            return SendResult(outcome=Outcome.FAILED, detail=f"refused endpoint: {exc}")
        if self._closed:
            return SendResult(outcome=Outcome.RETRY, detail=_CLOSED)
        await self._ahead.acquire()
        try:
            built = await self._body(target, message)
        except BaseException:
            self._ahead.release()
            raise
        if isinstance(built, SendResult):
            self._ahead.release()
            return built
        headers, body = built
        return Prepared(functools.partial(self._post, url, headers, body), release=self._ahead.release)

    async def send(self, target: Target, message: PushMessage) -> SendResult:
        """:meth:`prepare` and post at once."""
        return await send(self, target, message)

    async def _post(self, url: URL, headers: dict[str, str], body: bytes) -> SendResult:
        if self._closed:
            return SendResult(outcome=Outcome.RETRY, detail=_CLOSED)
        session, slots = self._open()
        async with slots:
            return await self._request(session, url, headers, body)

    async def _request(
        self, session: aiohttp.ClientSession, url: URL, headers: dict[str, str], body: bytes
    ) -> SendResult:
        try:
            async with session.post(
                url,
                data=body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                status, answer_headers = response.status, response.headers
        except TimeoutError as exc:  # aiohttp's timeouts all derive from it (asyncio.TimeoutError)
            return SendResult(outcome=Outcome.RETRY, detail=f"timed out: {type(exc).__name__}")
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, RefusedAddress):
                return SendResult(outcome=Outcome.FAILED, detail=str(exc.os_error))
            detail = f"transport error: {type(exc).__name__}: {exc}"
            return SendResult(outcome=Outcome.RETRY, detail=detail)
        except aiohttp.ClientError as exc:
            detail = f"transport error: {type(exc).__name__}: {exc}"
            return SendResult(outcome=Outcome.RETRY, detail=detail)
        text = raw.decode("utf-8", errors="replace")
        return classify(status, answer_headers, text, now=self._clock)

    async def aclose(self) -> None:
        """Close the owned session (an injected session or executor belongs to the caller); later
        sends answer RETRY."""
        self._closed = True
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()
        if self._batcher is not None:
            await self._batcher.aclose()
