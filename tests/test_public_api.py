"""What users import: every name in ``__all__`` exists, the errors they catch are exported, and
``pushlog.hub`` offers ``create_app``/``HubConfig`` without loading Starlette until asked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pushlog
import pushlog.hub
import pushlog.testing


@pytest.mark.parametrize("module", [pushlog, pushlog.hub, pushlog.testing])
def test_every_name_in_all_resolves(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert len(names) == len(set(names))
    missing = [name for name in names if not hasattr(module, name)]
    assert missing == []


def test_errors_users_catch_are_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUSHLOG_DSN", raising=False)
    assert {"DSNError", "SendError"} <= set(pushlog.__all__)
    with pytest.raises(pushlog.DSNError, match="must start with http"):
        pushlog.Client("ftp://k@hub")
    with pytest.raises(pushlog.SendError, match="no hub configured"):
        pushlog.send_now([pushlog.Event(title="x")])


def test_hub_surface_is_create_app_and_hub_config_loaded_on_use() -> None:
    assert pushlog.hub.__all__ == ["HubConfig", "create_app"]
    code = (
        "import sys, pushlog.hub\n"
        "assert 'starlette' not in sys.modules\n"
        "from pushlog.hub import HubConfig, create_app\n"
        "from pushlog.hub.app import create_app as real\n"
        "assert create_app is real and HubConfig.__module__ == 'pushlog.hub.config'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pushlog.hub.nope  # type: ignore[attr-defined]  # noqa: B018


def test_import_pushlog_leaves_what_only_sending_or_other_calls_need_unloaded() -> None:
    """``import pushlog`` stays small (docs/performance.md): no HTTP stack, no redaction rules, no
    ``dataclasses``; ``expect``, ``job`` and ``push_to`` load on first access and are the real ones."""
    code = (
        "import sys, pushlog\n"
        "heavy = {'httpx', 'ssl', 'dataclasses', 'uuid', 'pushlog._redact', 'pushlog._push_to',\n"
        "         'pushlog._expect', 'pushlog._job'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
        "from pushlog import job, push_to\n"
        "from pushlog._job import job as real_job\n"
        "from pushlog._push_to import push_to as real_push_to\n"
        "assert job is real_job and push_to is real_push_to\n"
        "assert pushlog.expect.__module__ == 'pushlog._expect'\n"
        "assert {'expect', 'job', 'push_to', 'Registration'} <= set(dir(pushlog))\n"
    )
    env = {**os.environ, "PUSHLOG_DSN": ""}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pushlog.nope  # type: ignore[attr-defined]  # noqa: B018


#: What ``import pushlog`` may load beyond ``import logging`` besides its own modules: its import time
#: is judged over logging (docs/performance.md). A new entry here costs every application's start.
IMPORTED_WITH_PUSHLOG = {"__future__", "contextvars", "_contextvars"}


def test_import_pushlog_over_logging_loads_its_own_modules_and_contextvars_only() -> None:
    """``json``, ``datetime``, ``typing``, ``signal`` and ``math`` load on first use (the first client,
    the worker's first timestamp, ``install_sigterm_flush``), the HTTP stack with a client that sends;
    then they work as before."""
    code = (
        "import sys, logging\n"
        "before = set(sys.modules)\n"
        "import pushlog\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
        "event = pushlog.Event(title='lazy')\n"
        "print(event.ts.tzinfo, event.to_wire()['ts'].endswith('Z'), 'datetime' in sys.modules)\n"
    )
    env = {**os.environ, "PUSHLOG_DSN": ""}
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, timeout=60, env=env, capture_output=True, text=True
    )
    added, used = done.stdout.splitlines()
    others = {name for name in added.split() if name != "pushlog" and not name.startswith("pushlog.")}
    assert others <= IMPORTED_WITH_PUSHLOG, others - IMPORTED_WITH_PUSHLOG
    assert not {"json", "datetime", "typing", "signal", "math", "httpx", "ssl"} & set(added.split())
    assert used == "UTC True True"
