"""Flask with pushlog: ``PUSHLOG_DSN=... flask --app app run`` (or any WSGI server).

Flask logs unhandled exceptions on ``app.logger`` at ERROR with the traceback; the record propagates to
the root logger, where the PushHandler turns it into a push. The root handler is at WARNING so the
development server's per-request INFO lines do not fill the feed; use ``pushlog.log()`` for feed-only
events and ``pushlog.notify()`` for pushes.
"""

import logging

from flask import Flask, Response, jsonify, request

import pushlog

logging.getLogger().addHandler(pushlog.PushHandler(level="WARNING"))  # reads PUSHLOG_DSN

app = Flask(__name__)


@app.post("/signup")
def signup() -> Response:
    plan = request.args.get("plan", "free")
    pushlog.notify("New signup", body=f"plan {plan}", channel="signups", plan=plan)
    return jsonify(ok=True)


@app.get("/checkout")
def checkout() -> Response:
    raise RuntimeError("payment gateway timed out")
