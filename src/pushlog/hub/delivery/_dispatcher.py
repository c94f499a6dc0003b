"""The dispatcher: drains the durable outbox through the push senders.

:meth:`DeliveryService.run_once` is one step, deterministic under an injected clock: create the due
CRITICAL re-push rounds, write the next chunks of fan-outs still expanding (``outbox.expand_fanouts``:
their rows come claimed) and lease due ``queued`` deliveries through a send window of ``batch_size``
(a small first claim starts sending at once; each next claim runs in a database thread while the
window's sends are in flight, see :meth:`DeliveryService._pipeline`), send them concurrently through
the sender for each device's kind, and record the outcomes as they come in (one transaction every
:data:`RECORD_EVERY` seconds at most):

* SENT -> ``sent`` (device's ``last_success_at`` updated);
* RETRY -> stays ``queued`` with ``next_attempt_at`` from :class:`RetryPolicy` (honouring
  ``Retry-After``), or ``failed`` once the attempts are used up;
* GONE -> ``failed``, and the device is deleted (its other queued deliveries fail with it);
* FAILED -> ``failed`` with the sender's detail (413, 400, VAPID rejected, bad keys: never retried).

:meth:`DeliveryService.start` runs steps in an asyncio task: straight on while batches come back
full (each claiming up to :data:`STEP_BATCHES` windows' worth), otherwise waiting until the next row
is due or :meth:`wake` is called (the API calls it after ingest). Leases make restarts safe: a claim
that dies with its process expires and is taken again, and a result is only recorded by the claimer
that still holds the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from .._clock import Clock
from ..config import CRITICAL_REPEAT_INTERVAL, PUSH_TTL
from ..notifications import RenderError
from ..notifications._message import content_for_notification
from ..store import outbox
from ..store.device_tokens import DeviceTokenKeyError, DeviceTokenVault
from ..store.devices import webpush_secrets
from ..store.outbox import Claimed
from ._backoff import RetryPolicy
from ._base import ApnsTarget, FcmTarget, Outcome, Prepared, Sender, SendResult, Target, WebPushTarget
from ._content import PushContent
from ._payload import build_message, content_for_event, with_summary

log = logging.getLogger("pushlog.hub.delivery")

#: While a batch is sending, its finished results are written at least this often (seconds). Each
#: write is a transaction whose begin and commit cost about as much CPU as its first few dozen rows;
#: a crash re-sends what finished since the last write, at a fan-out's pace fewer pushes than the
#: send window keeps in flight (and re-sends anyway).
RECORD_EVERY = 0.2
#: A step of the background loop claims up to this many batches through its send window before it
#: looks at due re-push rounds again: a long fan-out streams without a pause between batches.
STEP_BATCHES = 8


@dataclass(slots=True)
class StepReport:
    """What one :meth:`DeliveryService.run_once` did."""

    repeats_created: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    gone: int = 0
    lost: int = 0  # results not recorded: the lease had expired or the row was acknowledged meanwhile


class DeliveryObserver(Protocol):
    """Told about every push attempt (the hub's metrics): device kind, outcome, seconds it took."""

    def attempted(self, transport: str, status: str, seconds: float) -> None: ...


def target_for(device: Mapping[str, Any], vault: DeviceTokenVault | None = None) -> Target | None:
    """What the device's sender takes (its secrets decrypted with ``vault``); None if unknown or sealed
    under a key this hub lacks."""
    kind = device.get("kind")
    if kind == "webpush":
        opened = webpush_secrets(device, vault) if vault is not None else None
        if opened is None:
            return None
        endpoint, p256dh, auth = opened
        return WebPushTarget(endpoint=endpoint, p256dh=p256dh, auth=auth)
    if kind in ("fcm", "apns") and vault is not None and device.get("token"):
        token = vault.decrypt(str(kind), str(device["token"]))
        if kind == "fcm":
            return FcmTarget(token=token)
        registered = device.get("token_registered_at")
        return ApnsTarget(token=token, registered_at=registered.timestamp() if registered else None)
    return None


#: Devices whose opened target the dispatcher keeps (:class:`OpenedTargets`), about 1 KB each.
KEEP_TARGETS = 10_000
#: The columns a device's target is opened from: the same values always open to the same target.
_TARGET_COLUMNS = ("id", "kind", "endpoint", "p256dh", "auth", "token", "token_registered_at")


class OpenedTargets:
    """:func:`target_for` with each device's target kept, keyed by the stored (sealed) values it was
    opened from: a fan-out to the devices of the last one decrypts nothing again, and a device that
    registers again or is re-sealed under another key has new values, so it is opened anew. Holds at
    most ``keep`` targets (the oldest go first); a device that does not open is never kept."""

    def __init__(self, vault: DeviceTokenVault | None, *, keep: int = KEEP_TARGETS) -> None:
        self._vault = vault
        self._keep = keep
        self._kept: dict[tuple[Any, ...], Target] = {}

    def __call__(self, device: Mapping[str, Any]) -> Target | None:
        key = tuple(device.get(column) for column in _TARGET_COLUMNS)
        target = self._kept.get(key)
        if target is None:
            target = target_for(device, self._vault)  # raises DeviceTokenKeyError as target_for does
            if target is not None:
                if len(self._kept) >= self._keep:
                    del self._kept[next(iter(self._kept))]
                self._kept[key] = target
        return target


def _repeats(claim: Claimed) -> bool:
    """Whether the claim's event has CRITICAL re-push rounds to come (the loop schedules them)."""
    return claim.event is not None and claim.event.get("repeat_next_at") is not None


@dataclass(slots=True)
class _Ready:
    """A claim's push prepared up to its request: the sender's :class:`Prepared`, or the result that
    stopped it first; ``seconds`` the sender took so far (None: it never reached a sender)."""

    claim: Claimed
    kind: str
    prepared: Prepared | SendResult
    seconds: float | None = None

    def discard(self) -> None:
        if isinstance(self.prepared, Prepared):
            self.prepared.discard()


def _raised(kind: str, claim: Claimed, exc: Exception) -> SendResult:
    """A sender (or building its message) raised: a bug must not stop the dispatcher; retry later."""
    log.error("sender for %s raised on delivery %s", kind, claim.id, exc_info=exc)
    return SendResult(outcome=Outcome.RETRY, detail=f"sender raised {type(exc).__name__}: {exc}")


def _discard_all(futures: Iterable[asyncio.Future[_Ready]]) -> None:
    """Give up on prepared pushes: cancel those still preparing, release those prepared."""

    def discard(future: asyncio.Future[_Ready]) -> None:
        if not future.cancelled() and future.exception() is None:
            future.result().discard()

    for future in futures:
        future.cancel()
        future.add_done_callback(discard)


class Handoff:
    """The first pushes of one ingest, prepared on the event loop while its transaction commits and
    posted only once it has: see :meth:`DeliveryService.handoff`.

    The writer thread calls :meth:`prepare` after the ingest job ran, before its COMMIT: the pushes are
    built and encrypted by the time the commit returns (measured: mostly before the COMMIT, as the
    woken loop takes the GIL; the post then no longer waits behind the other work the commit woke,
    docs/performance.md "Waiting or working"). A group commit may run the job again
    (its group failed and each job is retried alone): the newest claims replace the ones prepared
    before. :meth:`send` posts the claims of the transaction that committed (prepared now if they are
    not the ones prepared); :meth:`drop` discards all, and nothing was sent.
    """

    def __init__(self, service: DeliveryService, loop: asyncio.AbstractEventLoop) -> None:
        self._service = service
        self._loop = loop
        self._claims: Sequence[Claimed] | None = None
        self._ready: list[asyncio.Future[_Ready]] = []
        self._over = False  # sent or dropped: a late prepare is ignored

    def prepare(self, claims: Sequence[Claimed]) -> None:
        """Start preparing ``claims`` on the loop (thread-safe: the writer thread calls it)."""
        if claims:
            self._loop.call_soon_threadsafe(self._early, claims)

    def send(self, claims: Sequence[Claimed]) -> bool:
        """Post ``claims`` (committed): those prepared already, or prepared now (on the loop). The
        posts are tasks that start at the loop's next turn; returns whether there is any."""
        if self._claims is not claims:
            self._start(claims)
        ready = list(zip(claims, self._ready, strict=True))
        self._claims, self._ready, self._over = None, [], True
        if ready:
            self._service._post_handed(ready)
        return bool(ready)

    def drop(self) -> None:
        """Discard what was prepared and not sent (the transaction failed); idempotent."""
        self._over = True
        self._discard()

    def _early(self, claims: Sequence[Claimed]) -> None:
        if not self._over:
            self._start(claims)

    def _discard(self) -> None:
        ready, self._claims, self._ready = self._ready, None, []
        _discard_all(ready)

    def _start(self, claims: Sequence[Claimed]) -> None:
        self._discard()
        contents: dict[str, PushContent] = {}  # one content per event, however many devices get it
        self._claims = claims
        self._ready = [asyncio.ensure_future(self._service._prepare(c, contents)) for c in claims]


class DeliveryService:
    """The outbox dispatcher; see the module docstring."""

    def __init__(
        self,
        *,
        engine: sa.Engine,
        senders: Mapping[str, Sender],
        base_url: str,
        receipt_secret: str,
        clock: Clock,
        ttl: int = PUSH_TTL,
        repeat_interval: float = CRITICAL_REPEAT_INTERVAL,
        retry: RetryPolicy | None = None,
        lease: float = 120.0,
        batch_size: int = 256,
        first_claim: int = 32,
        max_idle: float = 30.0,
        shutdown_grace: float = 5.0,
        owned_senders: bool = False,
        vault: DeviceTokenVault | None = None,
        observer: DeliveryObserver | None = None,
    ) -> None:
        self._engine = engine
        self._senders = dict(senders)
        self._owned = owned_senders
        self._targets = OpenedTargets(vault)
        self._base_url = base_url
        self._secret = receipt_secret
        self._clock = clock
        self._ttl = ttl
        self._interval = _dt.timedelta(seconds=repeat_interval)
        self._retry = retry or RetryPolicy()
        self._lease = _dt.timedelta(seconds=lease)
        self._batch = batch_size
        self._first_claim = max(1, min(first_claim, batch_size))
        self._max_idle = max_idle
        self._grace = shutdown_grace
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._observer = observer
        self._handed: set[asyncio.Task[None]] = set()  # sends of rows claimed at ingest (send_claimed)

    # one step ------------------------------------------------------------------------------------
    async def run_once(self, *, rows: int | None = None) -> StepReport:
        """Schedule due re-pushes, then claim, send and record up to ``rows`` deliveries (default: one
        batch) through the send window (:meth:`_pipeline`). Returns what happened."""
        report = StepReport()
        if self._handed:  # as after a step of its own: claim only once those results are recorded
            await asyncio.wait(set(self._handed))
        now = self._clock()
        report.repeats_created = await self._db(outbox.schedule_repeats, now=now, interval=self._interval)
        await self._pipeline(now, self._batch if rows is None else max(1, rows), report)
        return report

    async def _pipeline(self, now: _dt.datetime, rows: int, report: StepReport) -> None:
        """Claim, send and record up to ``rows`` deliveries with at most ``batch_size`` sends in flight.

        A small first claim starts sending at once (the first push of a large fan-out does not wait
        for a large claim); after it, the next claim (a database transaction in a thread) starts as
        soon as the window has room for a refill, while the sends already claimed are in flight, so
        the event loop never waits for a claim between two batches. Finished sends are recorded
        every :data:`RECORD_EVERY` seconds and once more at the end (a process killed mid-step leaves
        unrecorded, and sent again after the lease, only what finished since its last write). The
        step ends when a claim comes back short or ``rows`` were claimed.
        """
        loop = asyncio.get_running_loop()
        contents: dict[str, PushContent] = {}  # one content per event, however many devices get it
        refill = max(self._first_claim, self._batch // 2)  # claims of half a window at least
        wake = asyncio.Event()
        in_flight: dict[asyncio.Future[SendResult], Claimed] = {}
        finished: list[tuple[Claimed, SendResult]] = []
        state = {"claimable": False}  # whether a finished send should wake the loop for a refill

        def on_sent(future: asyncio.Future[SendResult]) -> None:
            claim = in_flight.pop(future)
            if not future.cancelled():
                finished.append((claim, future.result()))
            if not in_flight or (state["claimable"] and self._batch - len(in_flight) >= refill):
                wake.set()

        def start(claims: list[Claimed]) -> None:
            for claim in claims:
                future = asyncio.ensure_future(self._send(claim, contents))
                in_flight[future] = claim
                future.add_done_callback(on_sent)

        asked = min(self._first_claim, rows)
        claiming: asyncio.Future[list[Claimed]] | None = None
        try:
            start(await self._db(self._claim, now=now, limit=asked))  # a failure here fails the step
            report.claimed = len(in_flight)
            more = report.claimed == asked < rows
            next_record = loop.time() + RECORD_EVERY
            while more or claiming is not None or in_flight or finished:
                room = self._batch - len(in_flight)
                if more and claiming is None and room >= min(refill, rows - report.claimed):
                    asked = min(room, rows - report.claimed)
                    claiming = asyncio.ensure_future(self._db(self._claim, now=now, limit=asked))
                    claiming.add_done_callback(lambda _: wake.set())
                state["claimable"] = more and claiming is None
                if in_flight or claiming is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), timeout=max(0.0, next_record - loop.time()))
                    wake.clear()
                if claiming is not None and claiming.done():
                    got: list[Claimed] = []
                    try:
                        got = claiming.result()
                    except Exception:  # what is in flight is recorded; the rest waits for the next step
                        log.exception("claiming the rest of a delivery batch failed")
                    claiming = None
                    report.claimed += len(got)
                    more = more and len(got) == asked and report.claimed < rows
                    start(got)
                if finished and (loop.time() >= next_record or not (in_flight or claiming is not None)):
                    done, finished[:] = list(finished), []
                    await self._db(self._record_all, done, report)
                if loop.time() >= next_record:
                    next_record = loop.time() + RECORD_EVERY
        finally:
            for future in list(in_flight):
                future.cancel()
            if claiming is not None:
                claiming.cancel()

    def _claim(self, conn: sa.Connection, *, now: _dt.datetime, limit: int) -> list[Claimed]:
        """Up to ``limit`` rows to send: the next chunks of fan-outs still expanding (their rows are
        written claimed), then due queued rows."""
        claims = outbox.expand_fanouts(conn, now=now, lease=self._lease, limit=limit)
        if len(claims) < limit:
            claims += outbox.claim_due(conn, now=now, lease=self._lease, limit=limit - len(claims))
        return claims

    # rows claimed at ingest ---------------------------------------------------------------------
    @property
    def lease(self) -> _dt.timedelta:
        """How long a claim holds its rows; ingest claims its first pushes with it (:meth:`send_claimed`)."""
        return self._lease

    def handoff(self) -> Handoff:
        """A hand-off for the first pushes of one ingest (on the dispatcher's event loop): its
        transaction calls :meth:`Handoff.prepare` with the rows it claimed before it commits, the
        caller :meth:`Handoff.send` once it has (or :meth:`Handoff.drop` if it failed)."""
        return Handoff(self, asyncio.get_running_loop())

    def send_claimed(self, claims: Sequence[Claimed]) -> None:
        """Send rows the caller already claimed for this process (the ingest transaction that queued
        them, ``outbox.enqueue_claimed``) and committed, now, beside the background loop (see
        :meth:`handoff` to prepare them while the transaction commits)."""
        self.handoff().send(claims)

    def _post_handed(self, ready: list[tuple[Claimed, asyncio.Future[_Ready]]]) -> None:
        """Post the prepared first pushes of a committed ingest; results are recorded like a step's.
        A fresh event's first push so leaves without waiting for a claim transaction."""
        if self._closing:  # the leases expire and the loop claims the rows again
            _discard_all(future for _, future in ready)
            return
        # The posts start here, not in the recording task: one loop turn sooner, ahead of the other
        # work the commit woke (the notifications runner's round, whose thread takes the GIL).
        sends: list[tuple[Claimed, asyncio.Future[SendResult]]] = [
            (claim, asyncio.ensure_future(self._post_when(future))) for claim, future in ready
        ]
        task = asyncio.get_running_loop().create_task(
            self._send_handed(sends), name="pushlog-delivery-handed"
        )
        self._handed.add(task)
        task.add_done_callback(self._handed.discard)

    async def _post_when(self, ready: asyncio.Future[_Ready]) -> SendResult:
        return await self._post(await ready)

    async def _send_handed(self, sends: list[tuple[Claimed, asyncio.Future[SendResult]]]) -> None:
        report = StepReport()
        settled = False
        try:
            await self._record_as_done(sends, report)
            settled = report.sent + report.failed + report.gone == len(sends)
        except Exception:  # unrecorded results: their leases expire and the rows are sent again
            log.exception("recording the first pushes of an ingest failed")
        finally:
            # The loop sleeps until the next moment it read from the outbox. These rows move it only
            # if one is still queued (a retry, or a result not recorded: its lease), or if their event
            # re-pushes (CRITICAL rounds): then it must read again. A push that was simply sent needs
            # no step (a step is three transactions, each taking SQLite's write lock).
            if not settled or any(_repeats(claim) for claim, _ in sends):
                self._wakeup.set()

    async def _record_as_done(
        self, sends: list[tuple[Claimed, asyncio.Future[SendResult]]], report: StepReport
    ) -> None:
        """Record the outcomes of ``sends`` as they come in: every :data:`RECORD_EVERY` seconds while
        some are still sending, and once more at the end. A process killed mid-batch so leaves
        unrecorded (and sent again after the lease) only what finished since its last write, not the
        whole batch; a batch done within the interval is recorded in one transaction."""
        remaining = sends
        try:
            while remaining:
                await asyncio.wait({future for _, future in remaining}, timeout=RECORD_EVERY)
                done = [(claim, future.result()) for claim, future in remaining if future.done()]
                remaining = [(claim, future) for claim, future in remaining if not future.done()]
                if done:
                    await self._db(self._record_all, done, report)
        finally:
            for _, future in remaining:
                future.cancel()

    async def _send(self, claim: Claimed, contents: dict[str, PushContent]) -> SendResult:
        return await self._post(await self._prepare(claim, contents))

    async def _prepare(self, claim: Claimed, contents: dict[str, PushContent]) -> _Ready:
        """The claim's push built up to its request (content, message, the sender's body): all but
        the POST, which :meth:`_post` makes."""
        kind = str(claim.device.get("kind"))
        sender = self._senders.get(kind)
        try:
            target = self._targets(claim.device)
        except DeviceTokenKeyError as exc:
            return _Ready(claim, kind, SendResult(outcome=Outcome.FAILED, detail=str(exc)))
        if sender is None or target is None:
            detail = f"no sender for device kind {kind!r}"
            return _Ready(claim, kind, SendResult(outcome=Outcome.FAILED, detail=detail))
        start = time.perf_counter()
        try:
            ttl = self._ttl
            if claim.notification is not None:  # an app user's notification: their own text
                try:
                    content = content_for_notification(claim)
                except RenderError as exc:  # fails this user's delivery, never the whole send
                    result = SendResult(outcome=Outcome.FAILED, detail=f"render error: {exc}")
                    return _Ready(claim, kind, result)
                if claim.notification.get("ttl") is not None:
                    ttl = int(claim.notification["ttl"])
            else:
                assert claim.event is not None
                event_id = str(claim.event["id"])
                cached = contents.get(event_id)
                if cached is None:
                    cached = contents[event_id] = content_for_event(claim.event, base_url=self._base_url)
                content = cached
                if claim.summary:  # this push stands for several that waited (hub/attention)
                    content = with_summary(content, claim.summary, base_url=self._base_url)
            message = build_message(claim, content, receipt_secret=self._secret, ttl=ttl)
            prepared = await sender.prepare(target, message)
        except Exception as exc:  # a sender bug must not stop the dispatcher; retry with backoff
            prepared = _raised(kind, claim, exc)
        return _Ready(claim, kind, prepared, time.perf_counter() - start)

    async def _post(self, ready: _Ready) -> SendResult:
        """Send a prepared push (or take the result that stopped it) and tell the observer."""
        prepared, seconds = ready.prepared, ready.seconds
        if isinstance(prepared, SendResult):
            result = prepared
        else:
            start = time.perf_counter()
            try:
                result = await prepared.post()
            except Exception as exc:
                result = _raised(ready.kind, ready.claim, exc)
            seconds = (seconds or 0.0) + time.perf_counter() - start
        if self._observer is not None and seconds is not None:  # an attempt that reached its sender
            self._observer.attempted(ready.kind, result.outcome.value, seconds)
        return result

    def _record_all(
        self, conn: sa.Connection, outcomes: list[tuple[Claimed, SendResult]], report: StepReport
    ) -> None:
        now = self._clock()
        # Plain successes (the bulk of any fan-out) are recorded a few statements at a time.
        sent_by_status: dict[int | None, list[Claimed]] = {}
        for claim, result in outcomes:
            if result.outcome is Outcome.SENT:
                sent_by_status.setdefault(result.status, []).append(claim)
        for status, claims in sent_by_status.items():
            done_many = outbox.record_sent_many(conn, claims, now=now, status_code=status)
            report.sent += done_many
            report.lost += len(claims) - done_many
        for claim, result in outcomes:
            detail = result.detail or result.outcome.value
            if result.outcome is Outcome.SENT:
                continue
            if result.outcome is Outcome.GONE:
                done = outbox.record_gone(conn, claim, now=now, status_code=result.status, error=detail)
                report.gone += done
            elif result.outcome is Outcome.RETRY and not self._retry.exhausted(claim.attempts):
                wait = self._retry.delay(claim.attempts, result.retry_after)
                done = outbox.record_retry(
                    conn,
                    claim,
                    now=now,
                    next_attempt_at=now + _dt.timedelta(seconds=wait),
                    status_code=result.status,
                    error=detail,
                )
                report.retried += done
            else:
                if result.outcome is Outcome.RETRY:
                    detail = f"gave up after {claim.attempts} attempts: {detail}"
                done = outbox.record_failed(conn, claim, now=now, status_code=result.status, error=detail)
                report.failed += done
            if not done:
                report.lost += 1

    async def _db(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            with self._engine.begin() as conn:
                return fn(conn, *args, **kwargs)

        return await asyncio.to_thread(run)

    # the background loop -------------------------------------------------------------------------
    def start(self) -> None:
        """Run steps in a background task on the current event loop."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name="pushlog-delivery")

    def wake(self) -> None:
        """New rows were queued: look now instead of at the next due time (thread-safe)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wakeup.set()
        else:
            loop.call_soon_threadsafe(self._wakeup.set)

    async def _idle_seconds(self) -> float:
        due: _dt.datetime | None = await self._db(outbox.next_due)
        if due is None:
            return self._max_idle
        return min(self._max_idle, max(0.0, (due - self._clock()).total_seconds()))

    async def _run(self) -> None:
        failures = 0
        while not self._closing:
            self._wakeup.clear()  # a wake() during the step below stays set and ends the wait at once
            try:
                rows = self._batch * STEP_BATCHES
                report = await self.run_once(rows=rows)
                failures = 0
                if report.claimed >= rows:
                    continue
                idle = await self._idle_seconds()
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("delivery step failed (%d in a row)", failures)
                idle = min(self._max_idle, 0.5 * 2 ** min(failures, 6))
            if idle > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=idle)

    async def aclose(self) -> None:
        """Stop the loop and close owned senders.

        A step in flight gets ``shutdown_grace`` seconds to finish sending and record its results (so a
        graceful restart sends nothing twice); after that it is cancelled and its leases simply expire.
        """
        self._closing = True
        self._wakeup.set()
        task, self._task = self._task, None
        tasks = {*self._handed, *([task] if task is not None else [])}
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self._grace)
            for left in pending:
                left.cancel()
            for each in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await each
        if self._owned:
            for sender in self._senders.values():
                await sender.aclose()
