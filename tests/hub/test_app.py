"""The app as a whole: first start and restart, SQLite durability settings, OpenAPI, web app."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.routing import Route
from tests.support.hub_server import ThreadHub

from pushlog.hub.app import api_routes
from pushlog.hub.store import create_engine
from pushlog.hub.store._engine import sqlite_pragma


def test_first_start_creates_everything_and_a_second_start_reuses_it(
    hub_factory: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "fresh" / "nested"
    first = hub_factory(data_dir=data_dir)
    with first.client() as client:
        vapid_1 = client.get("/v1/webpush/vapid-public-key").json()["public_key"]
    first.stop()
    creds_file = data_dir / "credentials.json"
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    creds = json.loads(creds_file.read_text())
    assert creds == {"admin": first.admin_key, "publish": first.publish_key, "read": first.read_key}
    assert (data_dir / "pushlog.db").exists()

    second = hub_factory(data_dir=data_dir)
    assert (second.admin_key, second.publish_key, second.read_key) == (
        first.admin_key,
        first.publish_key,
        first.read_key,
    )
    with second.client() as client:
        assert client.get("/v1/webpush/vapid-public-key").json()["public_key"] == vapid_1
    assert len(vapid_1) == 87  # base64url of a 65-byte uncompressed P-256 point


def test_sqlite_runs_in_wal_mode_with_full_sync(hub: ThreadHub) -> None:
    engine = create_engine(f"sqlite:///{hub.data_dir / 'pushlog.db'}")
    try:
        assert sqlite_pragma(engine, "journal_mode") == "wal"
        assert sqlite_pragma(engine, "synchronous") == "2"  # FULL
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()
    assert version  # schema created through alembic migrations


def test_openapi_documents_every_route_and_method(hub: ThreadHub) -> None:
    with hub.client() as client:
        spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    for route in api_routes():
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method == "HEAD":
                continue
            assert (route.path, method) in documented, f"{method} {route.path} missing from /openapi.json"
    assert spec["servers"][0]["url"] == hub.base_url


def test_web_app_is_served_at_the_root_with_the_service_worker_at_root_scope(hub: ThreadHub) -> None:
    with hub.client() as client:
        index = client.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        worker = client.get("/sw.js")
        assert worker.status_code == 200
        assert "javascript" in worker.headers["content-type"]


def test_healthz_is_unauthenticated(hub: ThreadHub) -> None:
    with hub.client() as client:
        assert client.get("/healthz").json() == {"ok": True}


def test_serve_help_lists_the_documented_options() -> None:
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "pushlog", "serve", "--help"], capture_output=True, text=True, check=True
    )
    for option in ("--host", "--port", "--data-dir", "--db", "--allow-private-endpoints", "--public-url"):
        assert option in result.stdout
