"""A throwaway PostgreSQL server for tests: ``initdb`` in a temp dir, own port on 127.0.0.1, trust auth.

Debian's ``postgresql`` package provides the binaries (``make system-deps`` installs it). initdb
refuses to run as root, so as root the cluster is created and run as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from tests.support.hub_server import free_port, wait_until


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"PostgreSQL's {name} is not installed: run 'make system-deps'")
    return path


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _can_connect(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh PostgreSQL database; stop and delete it afterwards."""
    root = Path(tempfile.mkdtemp(prefix="pushlog-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    subprocess.run(
        _as_owner([_bin("initdb"), "-D", str(data), "--no-sync", "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        _as_owner(
            [
                _bin("postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    try:
        wait_until(lambda: server.poll() is not None or _can_connect(url), timeout=30, what="PostgreSQL")
        if server.poll() is not None:
            raise AssertionError("PostgreSQL exited during start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def new_database(url: str) -> str:
    """Create an empty database on the server of ``url`` and return its URL (tests that run hub
    processes side by side each get their own)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)
