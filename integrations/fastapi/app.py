"""FastAPI with pushlog: run with ``PUSHLOG_DSN=... uvicorn app:app``.

* Your loggers: a PushHandler on the ``shop`` logger (WARNING and up are pushed, INFO is feed only).
* Unhandled exceptions: an exception handler logs them with the request's method and path as
  metadata, so a 500 becomes a push with the traceback summary.
* Explicit events: ``pushlog.notify()`` anywhere.

The handler is attached when the module is imported, after uvicorn configured its own logging, so
uvicorn's ``dictConfig`` cannot remove it. The handler never blocks the event loop: sending happens on
pushlog's own thread.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import pushlog

log = logging.getLogger("shop")
log.setLevel(logging.INFO)
log.addHandler(pushlog.PushHandler())  # reads PUSHLOG_DSN

app = FastAPI()


@app.exception_handler(Exception)
async def push_unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "Unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"method": request.method, "path": request.url.path},
    )
    return JSONResponse({"error": {"code": "internal", "message": "internal error"}}, status_code=500)


@app.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


@app.post("/signup")
async def signup(plan: str = "free") -> dict[str, bool]:
    pushlog.notify("New signup", body=f"plan {plan}", channel="signups", plan=plan)
    return {"ok": True}


@app.get("/checkout")
async def checkout() -> dict[str, bool]:
    raise RuntimeError("payment gateway timed out")
