"""gunicorn settings for an app that uses pushlog: ``gunicorn -c gunicorn.conf.py app:app``.

``--preload`` (``preload_app``) imports the app once in the master, then forks the workers. pushlog is
made for that: its client starts its thread lazily and, after a fork, each worker starts over with an
empty queue, its own thread and its own HTTP connection, so nothing queued in the master is sent twice
and every worker's events arrive.
"""

import logging
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = 2
preload_app = True


def post_worker_init(worker: object) -> None:
    logging.getLogger("web").info("Worker %s ready", os.getpid(), extra={"worker_pid": os.getpid()})


def worker_exit(server: object, worker: object) -> None:
    import pushlog

    pushlog.flush(timeout=2.0)  # bounded: a hub that is down never delays the worker's exit more
