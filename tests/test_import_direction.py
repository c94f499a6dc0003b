"""Dependencies point one way: client core <- integrations, client core <- hub, cli on top.

The client (``src/pushlog/*.py``) runs inside users' processes: it must not pull in the hub (Starlette,
SQLAlchemy), the CLI (Textual) or the integrations. Integrations sit on the client and must not reach
into the hub or the CLI. Imports are read with :mod:`ast`, so lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "pushlog"


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Absolute names of every module ``source`` (the text of ``module``) imports, relative ones resolved.

    ``from . import cli`` counts as importing ``pushlog.cli``, so each imported name is added too.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def forbidden_in(
    source: str, module: str, forbidden: tuple[str, ...], *, is_package: bool = False
) -> list[str]:
    imported = imported_modules(source, module, is_package=is_package)
    return sorted(m for m in imported if any(m == f or m.startswith(f + ".") for f in forbidden))


def violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in files:
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        source = path.read_text(encoding="utf-8")
        out += [
            f"{module} imports {m}" for m in forbidden_in(source, module, forbidden, is_package=is_package)
        ]
    return out


#: ``__main__.py`` is ``python -m pushlog``, the CLI's entry point: it sits on top with the CLI.
CLIENT = sorted(p for p in PACKAGE.glob("*.py") if p.name != "__main__.py")
INTEGRATIONS = sorted((PACKAGE / "integrations").glob("*.py"))


def test_the_walk_sees_the_modules() -> None:
    assert PACKAGE / "_client.py" in CLIENT and PACKAGE / "integrations" / "structlog.py" in INTEGRATIONS
    assert violations(INTEGRATIONS, ("pushlog._client",)), "structlog.py imports the client: must be seen"


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("from .hub import app", "pushlog._x", ["pushlog.hub", "pushlog.hub.app"]),
        ("from . import cli", "pushlog._x", ["pushlog.cli"]),
        ("import pushlog.integrations.sentry", "pushlog._x", ["pushlog.integrations.sentry"]),
        (
            "def f():\n    from .integrations._x import y\n",
            "pushlog._x",
            ["pushlog.integrations._x", "pushlog.integrations._x.y"],
        ),
        ("from ..cli import main", "pushlog.integrations.x", ["pushlog.cli", "pushlog.cli.main"]),
        ("from .. import hub", "pushlog.integrations.x", ["pushlog.hub"]),
        ("from ._client import Client", "pushlog._x", []),
        ("from .._client import Client", "pushlog.integrations.x", []),
    ],
)
def test_a_forbidden_import_is_caught(source: str, module: str, expected: list[str]) -> None:
    assert forbidden_in(source, module, ("pushlog.hub", "pushlog.cli", "pushlog.integrations")) == expected


def test_client_core_imports_neither_hub_cli_nor_integrations() -> None:
    assert violations(CLIENT, ("pushlog.hub", "pushlog.cli", "pushlog.integrations")) == []


def test_integrations_import_neither_hub_nor_cli() -> None:
    assert violations(INTEGRATIONS, ("pushlog.hub", "pushlog.cli")) == []


def test_test_modules_do_not_import_each_other() -> None:
    """Shared test code lives in tests/support (or a folder's helper module), never in a test module."""
    tests = PACKAGE.parents[1] / "tests"
    offenders = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offenders += [
                f"{path.relative_to(tests)} imports {n}"
                for n in names
                if any(part.startswith("test_") for part in n.split("."))
            ]
    assert offenders == []
