"""The deployment files a team copies (integrations/systemd/pushlog.service + hub.env,
integrations/caddy/Caddyfile.*) are valid for the tools that read them.

- systemd: ``systemd-analyze verify`` accepts the unit as shipped (its ExecStart pointed at this
  checkout's ``pushlog``, since verify checks the binary exists), and ``systemd-analyze security``
  rates its exposure at most 1.5 of 10 ("OK"); the hardening settings docs/deploy.md promises are there.
- the unit's command line, with each ``PUSHLOG_SERVE_OPTIONS`` example of hub.env, is one
  ``pushlog serve`` accepts (so a renamed option cannot break a copied unit silently).
- Caddy: ``caddy validate`` accepts both Caddyfiles; the local one listens on 127.0.0.1 only.

Running them end to end (hub behind Caddy, Firefox receiving a push over https) is
tests/e2e/test_caddy_tls.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pushlog.cli import build_parser
from pushlog.cli._serve import _config

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "integrations" / "systemd" / "pushlog.service"
HUB_ENV = ROOT / "integrations" / "systemd" / "hub.env"
CADDYFILES = sorted((ROOT / "integrations" / "caddy").glob("Caddyfile.*"))
SHIPPED_BINARY = "/opt/pushlog/bin/pushlog"
MAX_EXPOSURE = 1.5


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:  # pragma: no cover - `make system-deps` installs it
        pytest.fail(f"{name} is missing: run `make system-deps`", pytrace=False)
    return found


def service_settings() -> dict[str, list[str]]:
    """The [Service] section's settings, each name with all its values in order."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            name, _, value = line.partition("=")
            settings.setdefault(name, []).append(value)
    return settings


@pytest.fixture
def unit_here(tmp_path: Path) -> Path:
    """The shipped unit, its ExecStart pointed at this checkout's ``pushlog`` script."""
    pushlog = Path(sys.executable).parent / "pushlog"
    assert pushlog.exists(), pushlog
    text = UNIT.read_text()
    assert SHIPPED_BINARY in text
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(SHIPPED_BINARY, str(pushlog)))
    return copy


def test_systemd_analyze_verify_accepts_the_unit(unit_here: Path) -> None:
    result = subprocess.run(
        [tool("systemd-analyze"), "verify", str(unit_here)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=unit_here.parent,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_systemd_analyze_security_rates_the_unit_ok(unit_here: Path) -> None:
    result = subprocess.run(
        [tool("systemd-analyze"), "security", "--offline=true", "--no-pager", str(unit_here)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=unit_here.parent,
    )
    assert result.returncode == 0, result.stderr
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert level is not None, result.stdout
    assert float(level.group(1)) <= MAX_EXPOSURE, result.stdout


def test_the_unit_has_the_hardening_the_docs_promise() -> None:
    settings = service_settings()
    expected = {
        "User": "pushlog",
        "StateDirectory": "pushlog",
        "UMask": "0077",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "MemoryDenyWriteExecute": "yes",
        "SystemCallArchitectures": "native",
    }
    assert {name: settings.get(name, [None])[-1] for name in expected} == expected
    assert settings["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    assert settings["Environment"] == ["PUSHLOG_DATA_DIR=%S/pushlog"]


def env_examples() -> list[str]:
    """Every ``PUSHLOG_SERVE_OPTIONS=`` line of hub.env, the commented alternatives included."""
    found = re.findall(r"^#?PUSHLOG_SERVE_OPTIONS=(.*)$", HUB_ENV.read_text(), flags=re.MULTILINE)
    assert len(found) >= 2, found
    return found


@pytest.mark.parametrize("options", env_examples())
def test_pushlog_serve_accepts_the_units_command_line(options: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (exec_start,) = service_settings()["ExecStart"]
    words = shlex.split(exec_start)
    assert words[:2] == [SHIPPED_BINARY, "serve"]
    argv = [
        w
        for word in words[1:]
        for w in (shlex.split(options) if word == "$PUSHLOG_SERVE_OPTIONS" else [word])
    ]
    monkeypatch.setenv("PUSHLOG_DATA_DIR", "/var/lib/pushlog")
    config = _config(build_parser().parse_args(argv))
    assert (config.host, config.port) == ("127.0.0.1", 8765)
    assert config.forwarded_allow_ips == ("127.0.0.1",)
    assert config.public_url == "https://push.example.com"
    assert str(config.data_dir) == "/var/lib/pushlog"


def caddy_env(tmp_path: Path) -> dict[str, str]:
    """Caddy's data and config under ``tmp_path``, its admin endpoint off."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "CADDY_ADMIN": "off",
    }


@pytest.mark.parametrize("caddyfile", CADDYFILES, ids=lambda p: p.name)
def test_caddy_validates_the_caddyfile(caddyfile: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [tool("caddy"), "validate", "--adapter", "caddyfile", "--config", str(caddyfile)],
        capture_output=True,
        text=True,
        timeout=60,
        env=caddy_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout + result.stderr


def test_the_local_caddyfile_listens_on_loopback_only(tmp_path: Path) -> None:
    assert [p.name for p in CADDYFILES] == ["Caddyfile.local", "Caddyfile.public"]
    result = subprocess.run(
        [tool("caddy"), "adapt", "--adapter", "caddyfile", "--config", str(CADDYFILES[0])],
        capture_output=True,
        text=True,
        timeout=60,
        env=caddy_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    servers = json.loads(result.stdout)["apps"]["http"]["servers"]
    assert [server["listen"] for server in servers.values()] == [["127.0.0.1:443"]]
