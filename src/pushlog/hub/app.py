"""The hub's ASGI app: :func:`create_app` builds a Starlette app for a :class:`HubConfig`.

The app's lifespan opens the database (creating and migrating it when needed), loads the hub secrets
and the bootstrap keys, starts the delivery service (``pushlog.hub.delivery.start_delivery``), the
periodic duties (``_duties.py``: heartbeat deadlines, retention, device upkeep, the release of held
pushes, the rules' pass) and, on PostgreSQL, the relay that carries live-stream changes between hub processes
(``_relay.py``), and stops them again on shutdown.
Routes: the API modules in ``api/`` and the web app from ``static/`` at ``/`` (``/sw.js`` at the
root so the service worker's scope is the whole hub).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import anyio.to_thread
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from ._backup import DataDirLock
from ._bodylimit import BodyLimitMiddleware
from ._bootstrap import bootstrap
from ._broker import Broker
from ._clock import Clock, system_clock
from ._endpoints import Resolver, system_resolver
from ._errors import (
    ApiError,
    InternalErrorMiddleware,
    handle_api_error,
    handle_database_unavailable,
    handle_http_exception,
    handle_internal_error,
)
from ._headers import SecurityHeadersMiddleware
from ._pushbudget import PushBudget
from ._ratelimit import RateLimiter
from ._state import HubState
from ._streams import StreamSlots
from .api import (
    audiences,
    deliveries,
    device_groups,
    devices,
    events,
    heartbeats,
    keys,
    meta,
    notifications,
    preferences,
    rules,
    stats,
    stream,
    templates,
    triggers,
    users,
)
from .config import HubConfig
from .rules import RulesEngine, RulesTask, apply_rules_file, read_rules_file
from .store.events import Repeat

if TYPE_CHECKING:  # delivery imports aiohttp: loaded when the hub starts (lifespan)
    from .delivery import Sender

STATIC_DIR = Path(__file__).parent / "static"


async def handle_client_disconnect(request: Request, exc: Exception) -> Response:
    """The client left (or was closed for a body that took too long) while its body was read: nobody
    is there to answer, and it is not the hub's error, so no traceback in the log."""
    return Response(status_code=499)


def api_routes() -> list[BaseRoute]:
    """Every API route (the OpenAPI test checks each of these is documented)."""
    return [
        *meta.routes,
        *events.routes,
        *stream.routes,
        *devices.routes,
        *deliveries.routes,
        *keys.routes,
        *heartbeats.routes,
        *stats.routes,
        *users.routes,
        *audiences.routes,
        *templates.routes,
        *notifications.routes,
        *triggers.routes,
        *preferences.routes,
        *rules.routes,
        *device_groups.routes,
    ]


def critical_repeat(config: HubConfig) -> Repeat:
    """The CRITICAL re-push schedule applied at ingest (publish path and the hub's own alerts)."""
    return Repeat(
        interval=_dt.timedelta(seconds=config.critical_repeat_interval),
        expiry=_dt.timedelta(seconds=config.critical_expiry),
    )


async def start_rules(state: HubState) -> RulesTask:
    """Declare the rules file (if any) and build the rules' periodic pass (a duty for the runner)."""
    config = state.config
    if config.rules_file is not None:
        found = read_rules_file(config.rules_file)  # RulesFileError stops the start, saying where
        await state.db(apply_rules_file, found, now=state.clock())
        state.rules.invalidate()

    async def on_events(deliveries: int) -> None:
        await state.broker.changed()
        if deliveries:
            state.wake_delivery()

    task = RulesTask(
        engine=state.rules,
        run_db=state.db,
        clock=state.clock,
        on_events=on_events,
        interval=config.rules_interval,
    )
    return task


def create_app(
    config: HubConfig,
    *,
    senders: Mapping[str, Sender] | None = None,
    clock: Clock | None = None,
    resolver: Resolver | None = None,
) -> Starlette:
    """Build the hub. ``senders`` replace the push senders (tests); ``clock`` replaces wall time;
    ``resolver`` replaces DNS for endpoint validation (tests)."""
    the_clock = clock or system_clock
    state = HubState(
        config=config,
        clock=the_clock,
        broker=Broker(),
        limiter=RateLimiter(
            rate=config.rate_limit_per_second, burst=config.rate_limit_burst, clock=the_clock
        ),
        auth_failures=RateLimiter(
            rate=config.auth_failures_per_minute / 60.0,
            burst=config.auth_failures_per_minute,
            clock=the_clock,
        ),
        streams=StreamSlots(total=config.max_streams, per_key=config.max_streams_per_key),
        push_budget=PushBudget(
            per_minute=config.push_budget_per_minute, max_series=config.max_critical_series, clock=the_clock
        ),
        resolver=resolver or system_resolver,
        senders=senders,
        rules=RulesEngine(repeat=critical_repeat(config)),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from . import _stats_rollups as stats_rollups
        from ._attention import AttentionTask
        from ._device_upkeep import DeviceUpkeep
        from ._duties import DutyRunner, leadership_for
        from ._relay import PgRelay
        from ._retention import RetentionTask
        from .delivery import start_delivery
        from .heartbeats import heartbeat_monitor
        from .notifications._runner import NotificationRunner

        data_lock = DataDirLock(config.data_dir)  # restore refuses while a hub holds it
        await anyio.to_thread.run_sync(data_lock.hold_shared)
        try:
            ready = await anyio.to_thread.run_sync(lambda: bootstrap(config, clock=the_clock))
        except BaseException:
            data_lock.release()
            raise
        state.engine = ready.engine
        state.secrets = ready.secrets
        relay = None
        try:
            if ready.engine.dialect.name == "postgresql":  # other hub processes may share the database
                relay = PgRelay(ready.engine.url, state.broker, on_events=state.wake_delivery)
                await relay.start()
                state.broker.relay = relay
            state.delivery = await start_delivery(
                engine=ready.engine, config=config, clock=clock, senders=senders, observer=state.metrics
            )
            monitor = app.state.heartbeat_monitor = heartbeat_monitor(state)
            retention = app.state.retention = RetentionTask.for_config(ready.engine, config, the_clock)
            upkeep = app.state.device_upkeep = DeviceUpkeep.for_config(ready.engine, config, the_clock)
            attention = app.state.attention = AttentionTask(
                engine=ready.engine, clock=the_clock, on_released=state.wake_delivery
            )
            rules = app.state.rules = await start_rules(state)
            # The hub's periodic duties, run by one process at a time (hub/_duties.py); append new ones.
            duties = [monitor.duty(), *retention.duties(), upkeep.duty(), attention.duty(), rules.duty()]
            duties.append(stats_rollups.duty(ready.engine))
            runner = app.state.duties = DutyRunner(
                duties, clock=the_clock, leadership=leadership_for(ready.engine)
            )
            monitor.runner = retention.runner = upkeep.runner = attention.runner = rules.runner = runner
            runner.start()
            # Notifications (claims by conditional UPDATE: safe in every process) run beside the duties.
            app.state.notifications = NotificationRunner(
                engine=ready.engine,
                clock=the_clock,
                on_queued=state.wake_delivery,
                ttl=config.push_ttl,
                broker=state.broker,
            )
            app.state.notifications.start()
            try:
                yield
            finally:
                await app.state.notifications.aclose()
                await runner.aclose()
                await state.broker.close()
                await state.delivery.aclose()
        finally:
            if relay is not None:
                state.broker.relay = None
                await relay.aclose()
            state.writer.close()
            state.engine = None
            ready.engine.dispose()
            data_lock.release()

    routes: list[BaseRoute] = [
        *api_routes(),
        Mount("/", app=StaticFiles(directory=STATIC_DIR, html=True, check_dir=False), name="webapp"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(InternalErrorMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=config.max_request_bytes),
        ],
        exception_handlers={
            ClientDisconnect: handle_client_disconnect,
            ApiError: handle_api_error,
            HTTPException: handle_http_exception,
            sa.exc.OperationalError: handle_database_unavailable,
            Exception: handle_internal_error,
        },
        lifespan=lifespan,
    )
    app.state.hub = state
    return app
