"""The pushlog hub (``pip install 'pushlog[hub]'``): a Starlette app that stores events and pushes them.

Run it with ``pushlog serve``; embed it in your own ASGI server with::

    from pathlib import Path
    from pushlog.hub import HubConfig, create_app

    app = create_app(HubConfig(data_dir=Path("/var/lib/pushlog"), public_url="https://hub.example.com"))

Both names load on first use, so ``import pushlog.hub.config`` (the CLI reading a data directory) does
not pull in Starlette and SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .config import HubConfig

__all__ = ["HubConfig", "create_app"]

_HOMES = {"HubConfig": ".config", "create_app": ".app"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pushlog.hub' has no attribute {name!r}")
    return getattr(importlib.import_module(home, __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
