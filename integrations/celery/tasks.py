"""Celery task failures as pushes, through Celery's signals.

A Celery worker takes over the root logger (``worker_hijack_root_logger``), so instead of relying on
its log output this recipe listens to ``task_failure`` and logs each failure on a logger of its own
with a PushHandler: one push per failing task (repeats within a minute are counted, not re-pushed),
with the task name and id as metadata and the exception summary as the body.

Run: ``PUSHLOG_DSN=... celery -A tasks worker``. Forked (prefork) worker processes are fine: pushlog's
client starts over in each child. ``worker_process_shutdown`` flushes what is still queued.

The default ``memory://`` broker exists inside one process only (the recipe's test runs the worker
in-process): a separate worker and the code that sends tasks need a shared broker, set with
``CELERY_BROKER_URL`` (``redis://localhost:6379/0``, or ``sqla+sqlite:////tmp/celery.db`` to try it
without a server; see docs/integrations.md).
"""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import task_failure, worker_process_shutdown, worker_shutdown

import pushlog

app = Celery(
    "tasks",
    broker=os.environ.get("CELERY_BROKER_URL", "memory://"),
    backend=os.environ.get("CELERY_RESULT_BACKEND", "cache+memory://"),
)

failures = logging.getLogger("tasks.failures")
failures.setLevel(logging.ERROR)
failures.propagate = False  # the worker's own logging already prints the traceback
failures.addHandler(pushlog.PushHandler(level="ERROR"))


@task_failure.connect
def push_task_failure(
    sender: Any = None, task_id: str | None = None, exception: BaseException | None = None, **_: Any
) -> None:
    name = getattr(sender, "name", "?")
    exc_info = (type(exception), exception, exception.__traceback__) if exception is not None else None
    failures.error(
        "Task %s failed",
        name,
        exc_info=exc_info,
        extra={"task": name, "task_id": task_id, "channel": "tasks"},
    )


@worker_process_shutdown.connect
@worker_shutdown.connect
def flush_pushlog(**_: Any) -> None:
    pushlog.flush(timeout=2.0)


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def charge(order_id: int) -> None:
    raise RuntimeError(f"card declined for order {order_id}")
