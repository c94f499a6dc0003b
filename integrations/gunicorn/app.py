"""A plain WSGI app for the gunicorn recipe (any framework works the same way)."""

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

import pushlog

log = logging.getLogger("web")
log.setLevel(logging.INFO)
log.addHandler(pushlog.PushHandler())  # reads PUSHLOG_DSN

# Logged in the master at import time (with --preload): the client's thread starts before the fork.
pushlog.log("App loaded", pid=os.getpid())


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/checkout":
        log.error("Checkout failed in worker %s", os.getpid(), extra={"worker_pid": os.getpid()})
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"failed\n"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
