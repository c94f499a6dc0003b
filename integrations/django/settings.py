"""A minimal Django settings module showing pushlog in ``LOGGING`` (DESIGN §3: dictConfig-friendly).

Copy the ``LOGGING`` dict into your own settings. ``pushlog.PushHandler`` reads ``PUSHLOG_DSN`` from the
environment; without it the handler is inert (one note on stderr) and the site is unaffected.

* ``django.request`` logs every unhandled exception (a 500) at ERROR with the traceback: a push.
* ``shop`` is your own code's logger: WARNING and up are pushed, INFO goes to the feed.
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "only-for-this-example")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        # PushHandler's keywords take plain strings, e.g. "dedup_window": "120" (with any client
        # option the handler gets a client of its own instead of the one pushlog.flush() flushes).
        "pushlog": {"class": "pushlog.PushHandler", "level": "INFO"},
    },
    "loggers": {
        "django.request": {"handlers": ["console", "pushlog"], "level": "ERROR", "propagate": False},
        "shop": {"handlers": ["console", "pushlog"], "level": "INFO", "propagate": False},
    },
}
