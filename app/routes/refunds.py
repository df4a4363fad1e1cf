"""``/v1/payments/{id}/refunds`` and ``/v1/refunds/{id}``: refund idempotently, read one back."""

import json

from starlette.requests import Request
from starlette.responses import Response

from app import keys
from app.body import read_json_body
from app.idempotency import parse_key
from app.payment_request import parse_json_object
from app.refund_accept import RefundAcceptor
from app.refund_record import decode_refund, refund_view
from app.refund_request import validate_refund
from app.routes.payments import JSON_MEDIA_TYPE, authenticate, owned_record


async def create_refund(request: Request) -> Response:
    merchant_id = await authenticate(request)
    client_key = parse_key(request.headers)
    body = await read_json_body(request)
    # An empty body asks for the default: refund what remains.
    refund_request = validate_refund(parse_json_object(body) if body.strip() else {})
    acceptor: RefundAcceptor = request.app.state.refund_acceptor
    payment_id = request.path_params["payment_id"]
    answer = await acceptor.accept(merchant_id, client_key, payment_id, refund_request)
    headers = {"Location": answer.location}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(answer.body, answer.status, headers=headers, media_type=JSON_MEDIA_TYPE)


async def get_refund(request: Request) -> Response:
    refund_id = request.path_params["refund_id"]
    record = await owned_record(
        request, "refund", refund_id, keys.REFUND_ID_PREFIX, keys.refund_key, decode_refund
    )
    body = json.dumps(refund_view(record), separators=(",", ":"))
    return Response(body, media_type=JSON_MEDIA_TYPE)
