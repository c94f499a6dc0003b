"""First start and every start: data directory, database, secrets and the bootstrap keys.

On a fresh data directory this creates the directory (mode 0700), the database (migrated to the
newest schema; a SQLite file is created 0600 wherever ``--db`` puts it, and SQLite gives its WAL and
SHM files the same mode), a VAPID key pair (EC P-256, private PEM in ``settings``), a receipt HMAC secret, and
an admin, a publish and a read key. Keys are stored hashed; their plaintext is kept in
``<data_dir>/credentials.json`` (mode 0600) so a second start can print the same DSN. A second start
reuses all of them. If the credentials file is gone or its keys are unknown to the database, a new set
of bootstrap keys is made (old keys stay valid until revoked).

An existing data directory (or database file) is left as it is: it may be a mounted volume whose
mode is not ours to change. If group or others can read it, a warning on the ``pushlog.hub`` logger
says so once per start, since the database holds the VAPID private key.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ._clock import Clock, system_clock
from .config import HubConfig
from .store import create_engine, migrate
from .store import keys as key_store
from .store.settings import RECEIPT_SECRET, VAPID_PRIVATE_KEY, get_setting, set_setting_if_missing

BOOTSTRAP_SCOPES = ("admin", "publish", "read")

logger = logging.getLogger("pushlog.hub")


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """The bootstrap keys' secrets (what ``credentials.json`` holds)."""

    admin: str
    publish: str
    read: str

    def dsn(self, base_url: str) -> str:
        scheme, _, rest = base_url.partition("://")
        return f"{scheme}://{self.publish}@{rest}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Secrets:
    vapid_private_pem: str
    vapid_public_key: str  # base64url, uncompressed P-256 point
    receipt_secret: str


def new_vapid_private_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def vapid_public_key(private_pem: str) -> str:
    """The application server key browsers need: base64url (no padding) of the uncompressed point."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def ensure_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` 0700 when missing; an existing one is only checked (:func:`warn_if_open`)."""
    try:
        data_dir.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        warn_if_open(data_dir, "data directory")


def warn_if_open(path: Path, what: str) -> bool:
    """Log a warning (and return True) when group or others have any access to ``path``."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return False
    if not mode & 0o077:
        return False
    logger.warning(
        "pushlog: the %s %s is accessible to other users (mode %04o); it holds the hub's keys: "
        "consider chmod %s %s",
        what,
        path,
        mode,
        "700" if path.is_dir() else "600",
        path,
    )
    return True


def sqlite_file(database_url: str) -> Path | None:
    """The file a SQLite URL points to, or ``None`` (another database, or an in-memory one)."""
    url = sa.engine.make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    if url.query.get("mode") == "memory":
        return None
    return Path(url.database)


def ensure_private_file(path: Path, what: str) -> None:
    """Create ``path`` empty with mode 0600 when missing (SQLite would create it 0644 under the usual
    umask), and its missing parent directories 0700; an existing file is only checked."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        warn_if_open(path, what)


def load_secrets(engine: sa.Engine) -> Secrets:
    """Create missing hub secrets and return them."""
    with engine.begin() as conn:
        pem = set_setting_if_missing(conn, VAPID_PRIVATE_KEY, new_vapid_private_pem())
        receipt = set_setting_if_missing(conn, RECEIPT_SECRET, secrets.token_urlsafe(32))
    return Secrets(vapid_private_pem=pem, vapid_public_key=vapid_public_key(pem), receipt_secret=receipt)


def _read_credentials(path: Path) -> Credentials | None:
    try:
        data = json.loads(path.read_text())
        return Credentials(admin=data["admin"], publish=data["publish"], read=data["read"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_credentials(path: Path, creds: Credentials) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a stale temp file keeps its old mode through O_CREAT
    with os.fdopen(fd, "w") as handle:
        json.dump({"admin": creds.admin, "publish": creds.publish, "read": creds.read}, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    path.chmod(0o600)


def ensure_credentials(engine: sa.Engine, path: Path, *, clock: Clock = system_clock) -> Credentials:
    """The bootstrap keys: reused when ``credentials.json`` matches live keys, else created anew."""
    existing = _read_credentials(path)
    with engine.begin() as conn:
        if existing is not None:
            live = [
                key_store.find_by_secret(conn, s) for s in (existing.admin, existing.publish, existing.read)
            ]
            if all(record is not None and record.revoked_at is None for record in live):
                warn_if_open(path, "credentials file")
                return existing
        now = clock()
        made = {
            scope: key_store.create_key(conn, name=f"bootstrap {scope}", scope=scope, now=now)[1]
            for scope in BOOTSTRAP_SCOPES
        }
    creds = Credentials(**made)
    _write_credentials(path, creds)
    return creds


@dataclass(frozen=True, slots=True, kw_only=True)
class Bootstrapped:
    engine: sa.Engine
    secrets: Secrets
    credentials: Credentials


def bootstrap(config: HubConfig, *, clock: Clock = system_clock) -> Bootstrapped:
    """Everything a start needs, created when missing. The caller disposes ``engine``."""
    data_dir = Path(config.data_dir)
    ensure_data_dir(data_dir)
    db_file = sqlite_file(config.database_url)
    if db_file is not None:
        ensure_private_file(db_file, "database")
    engine = create_engine(config.database_url, busy_timeout=config.busy_timeout)
    try:
        migrate(engine)
        hub_secrets = load_secrets(engine)
        creds = ensure_credentials(engine, config.credentials_path, clock=clock)
    except BaseException:
        engine.dispose()
        raise
    return Bootstrapped(engine=engine, secrets=hub_secrets, credentials=creds)


def read_setting(engine: sa.Engine, key: str) -> str | None:
    with engine.connect() as conn:
        return get_setting(conn, key)
