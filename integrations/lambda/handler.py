"""An AWS-Lambda-style handler that uses pushlog.

A Lambda execution environment is frozen as soon as the handler returns: pushlog's background thread
stops with it, and ``atexit`` may never run. So flush before returning, in ``finally`` so failures are
sent too. ``pushlog.flush`` is bounded (here 2 s), so a slow hub cannot eat the function's time budget.
"""

import logging
from typing import Any

import pushlog

log = logging.getLogger("orders")
log.setLevel(logging.INFO)
log.addHandler(pushlog.PushHandler())  # reads PUSHLOG_DSN from the function's environment


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None)
    try:
        orders = event["orders"]
        total = sum(order["amount"] for order in orders)
        pushlog.notify(f"{len(orders)} orders imported", body=f"total {total}", request_id=request_id)
        return {"statusCode": 200, "imported": len(orders)}
    except Exception:
        log.exception("Order import failed", extra={"request_id": request_id})
        raise
    finally:
        pushlog.flush(timeout=2.0)
