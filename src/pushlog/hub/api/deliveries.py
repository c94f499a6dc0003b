"""``POST /v1/deliveries/{id}/receipt``: "delivered" / "opened" reports from the service worker.

No API key: the body's ``token`` (the HMAC the hub put in the push payload) proves the report comes
from the push's recipient.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import receipts
from .._errors import ApiError
from .._json import JSONResponse
from .._models import ReceiptRequest, decode_body
from .._state import hub_state
from ..store import deliveries as delivery_store
from ..store.outbox import DeliveryStatus


async def receipt(request: Request) -> Response:
    state = hub_state(request)
    delivery_id = request.path_params["delivery_id"]
    body = decode_body(await request.body(), ReceiptRequest)
    status = DeliveryStatus(body.status)
    if not receipts.verify_token(state.require_secrets().receipt_secret, delivery_id, body.token):
        raise ApiError(401, "unauthorized", "receipt token does not match this delivery")
    row = await state.db(delivery_store.record_receipt, delivery_id, status, now=state.clock())
    if row is None:
        raise ApiError(404, "not_found", f"no delivery with id {delivery_id}")
    return JSONResponse(row)


routes = [Route("/v1/deliveries/{delivery_id}/receipt", receipt, methods=["POST"])]
