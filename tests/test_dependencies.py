"""What ``pip install pushlog[...]`` installs is what the shipped code imports.

Each requirement of the core and of the ``hub``, ``tui``, ``structlog``, ``otel``, ``sentry`` and
``postgres`` extras must be imported somewhere under src/pushlog (lazily counts), or be listed in
:data:`INDIRECT` with why. Test and benchmark tools belong in the ``dev`` extra.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "pushlog"

#: Installed for users although no pushlog module imports them, with the reason.
INDIRECT = {
    "sniffio": "httpcore imports it per async request (TUI stream, APNs); absent, each try walks sys.path",
    "psycopg": "SQLAlchemy's postgresql+psycopg dialect loads it from the database URL",
    "opentelemetry-sdk": "users' tracer provider; pushlog reads spans through opentelemetry-api only",
    "sentry-sdk": "the user passes pushlog's hook to sentry_sdk.init; pushlog never imports sentry_sdk",
    "structlog": "pushlog's processor is put in the user's structlog chain; it never imports structlog",
    "tzdata": "zoneinfo reads IANA zones from it where the system has no zone files (slim containers)",
    "opentelemetry-api": "pushlog looks opentelemetry.trace up in sys.modules instead of importing it",
}
#: Distribution name -> top-level module, where they differ.
MODULE = {"http-ece": "http_ece", "pyyaml": "yaml", "pyjwt": "jwt"}


def requirement_name(spec: str) -> str:
    return re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0].strip().lower()


def imported_top_levels() -> set[str]:
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_every_user_facing_requirement_is_imported_by_shipped_code() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    user_facing = list(project["dependencies"])
    for extra, specs in project["optional-dependencies"].items():
        if extra not in ("dev", "all"):
            user_facing += specs
    imported = imported_top_levels()
    unused = sorted(
        name
        for name in map(requirement_name, user_facing)
        if name not in INDIRECT and MODULE.get(name, name.replace("-", "_")) not in imported
    )
    assert unused == [], "move these to the dev extra (or explain them in INDIRECT)"


def test_pywebpush_is_a_dev_baseline_not_a_hub_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert "pywebpush" not in map(requirement_name, extras["hub"])
    assert "pywebpush" in map(requirement_name, extras["dev"])
