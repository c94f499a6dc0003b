"""Hub configuration: one keyword-only dataclass, :class:`HubConfig`.

Everything the hub needs to know at start lives here; nothing is read from the environment later.
:func:`default_data_dir` is the one place that reads ``PUSHLOG_DATA_DIR``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

DATA_DIR_ENV: Final = "PUSHLOG_DATA_DIR"
DEFAULT_DATA_DIR: Final = ".pushlog"
DB_FILE: Final = "pushlog.db"
CREDENTIALS_FILE: Final = "credentials.json"
#: Defaults the delivery service shares with :class:`HubConfig` (seconds).
PUSH_TTL: Final = 3600
CRITICAL_REPEAT_INTERVAL: Final = 300.0
#: App users' devices unseen this many days are pruned by default (about nine months: FCM treats a
#: token unused for 270 days as expired).
DEVICE_INACTIVE_DAYS: Final = 270.0
#: Events are kept this many seconds by default (30 days; ``store/retention.py``).
RETENTION: Final = 30 * 86400.0


def default_data_dir(environ: dict[str, str] | None = None) -> Path:
    """``$PUSHLOG_DATA_DIR`` when set, else ``./.pushlog``."""
    env = os.environ if environ is None else environ
    return Path(env.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class HubConfig:
    """How a hub runs. All fields have defaults suited to ``pushlog serve`` on a laptop.

    ``db_url`` defaults to a SQLite file inside ``data_dir``. ``public_url`` is the address phones and
    browsers use to reach the hub (links in pushes); it defaults to ``http://host:port``.
    ``allow_private_endpoints`` is a development flag: it lets devices register push endpoints on
    loopback/private addresses and over plain http (for local stand-in push services).
    ``forwarded_allow_ips`` names the reverse proxies (addresses or networks, ``*`` for any) whose
    ``X-Forwarded-For`` / ``X-Forwarded-Proto`` the hub believes; empty (the default) ignores them.
    """

    data_dir: Path = field(default_factory=default_data_dir)
    db_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8765
    public_url: str | None = None
    forwarded_allow_ips: tuple[str, ...] = ()
    allow_private_endpoints: bool = False
    #: Token bucket per key: sustained requests per second and burst size.
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 200
    #: Largest accepted request body in bytes (the wire caps one batch well below this).
    max_request_bytes: int = 1_048_576
    #: Largest number of events in one POST.
    max_batch_events: int = 1000
    #: CRITICAL events are re-pushed every this many seconds until acknowledged or expired.
    critical_repeat_interval: float = CRITICAL_REPEAT_INTERVAL
    critical_expiry: float = 3600.0
    #: TTL (seconds) of each push; always explicit.
    push_ttl: int = PUSH_TTL
    #: SSE keepalive comment interval in seconds.
    keepalive_interval: float = 15.0
    #: Seconds a write waits for SQLite's write lock before the request fails with 503.
    busy_timeout: float = 10.0
    #: Seconds uvicorn waits for in-flight requests on shutdown.
    graceful_timeout: float = 10.0
    #: VAPID ``sub`` claim (contact); a mailto: or https: URL.
    vapid_subject: str = "mailto:admin@pushlog.invalid"
    # Limits on abuse (docs/hub.md "Limits"); each over-limit case answers or says so, never silently.
    #: Seconds a connection may take to send a request's headers (from connecting, or from the end of
    #: its previous response); then it is answered 408 and closed.
    header_timeout: float = 10.0
    #: Seconds a request may take to send its body once its headers are in; then 408 and closed.
    body_timeout: float = 30.0
    #: Open connections at most (lowered to fit the process's descriptor limit). At the cap, a new
    #: connection closes the one that has waited longest without sending a request; if none is idle
    #: the new one is answered 503 with Retry-After.
    max_connections: int = 1000
    #: Live ``/v1/stream`` connections in total and per key; beyond them, 429 with Retry-After.
    max_streams: int = 500
    max_streams_per_key: int = 100
    #: Failed authentications (unknown or revoked key) per client address per minute; then 429.
    auth_failures_per_minute: int = 20
    #: Pushed events per key per minute; beyond it events are stored but not pushed, and each
    #: device gets one summary push per key and minute instead.
    push_budget_per_minute: int = 60
    #: CRITICAL re-push series one key may have running (unacknowledged, not expired); further
    #: CRITICAL events of that key are pushed once, without re-pushes, and counted in the summary.
    max_critical_series: int = 10
    #: FCM HTTP v1: the Firebase service-account JSON; ``fcm_base_url`` replaces FCM's origin (stand-ins).
    fcm_credentials: Path | None = None
    fcm_base_url: str | None = None
    #: APNs token auth: the AuthKey_XXXX.p8 file, its key id, the team id and the app's bundle id (topic).
    apns_key: Path | None = None
    apns_key_id: str | None = None
    apns_team_id: str | None = None
    apns_topic: str | None = None
    apns_environment: str = "production"  # or "sandbox" (development builds)
    #: Only with Apple's critical-alerts entitlement may CRITICAL pushes use interruption-level critical.
    apns_critical_entitled: bool = False
    #: Replace APNs' host and trust an extra CA (stand-ins in tests).
    apns_base_url: str | None = None
    apns_ca_file: Path | None = None
    #: Master key (base64url, 32 bytes) for device tokens at rest; None: the data dir's key file.
    device_token_key: str | None = None
    #: Seconds an event is kept after it was received (None: forever); unacknowledged CRITICALs are
    #: kept until acknowledged. ``retention_channels`` overrides it per channel name.
    retention: float | None = RETENTION
    retention_channels: Mapping[str, float | None] = field(default_factory=dict)
    #: Seconds between the hub's retention passes.
    retention_interval: float = 3600.0
    #: ``/metrics`` without a key (only allowed when ``host`` is a loopback address).
    metrics_public: bool = False
    #: App users' devices not seen (registered or refreshed) for this many days are removed (None:
    #: never), checked every ``device_upkeep_interval`` seconds (``hub/_device_upkeep.py``).
    device_inactive_days: float | None = DEVICE_INACTIVE_DAYS
    device_upkeep_interval: float = 3600.0
    #: Seconds a dispatcher holds a claimed delivery: if its process dies mid-send, another process
    #: sends the delivery once this has passed. Keep it above the longest send (timeouts included).
    delivery_lease: float = 120.0
    #: A TOML rules file declared at every start (``hub/rules/_file.py``, docs/rules.md).
    rules_file: Path | None = None
    #: Seconds between the rules' periodic passes (missed expectations, quiet alerts).
    rules_interval: float = 30.0

    def __post_init__(self) -> None:
        for proxy in self.forwarded_allow_ips:
            if proxy != "*" and not _is_network(proxy):
                raise ValueError(
                    f"forwarded_allow_ips: {proxy!r} is not an IP address or network (e.g. 127.0.0.1, "
                    "10.0.0.0/8) or *"
                )
        if self.metrics_public and not is_loopback(self.host):
            raise ValueError(
                f"metrics_public needs a loopback address (127.0.0.1, ::1), not {self.host}: "
                "elsewhere /metrics takes an admin key"
            )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL in use: ``db_url`` or a SQLite file in ``data_dir``."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(Path(self.data_dir) / DB_FILE).resolve()}"

    @property
    def base_url(self) -> str:
        """Public base URL without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def apns_configured(self) -> bool:
        """All four APNs settings are given (``pushlog serve`` refuses a partial set)."""
        return all((self.apns_key, self.apns_key_id, self.apns_team_id, self.apns_topic))

    @property
    def native_kinds(self) -> frozenset[str]:
        """The native device kinds this hub can deliver to (FCM and/or APNs credentials given)."""
        kinds = {"fcm"} if self.fcm_credentials else set()
        if self.apns_configured:
            kinds.add("apns")
        return frozenset(kinds)

    @property
    def credentials_path(self) -> Path:
        return Path(self.data_dir) / CREDENTIALS_FILE
