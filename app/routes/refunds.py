"""``/v1/payments/{id}/refunds`` and ``/v1/refunds/{id}``: refund idempotently, read one back."""

import json

from starlette.requests import Request
from starlette.responses import Response

from app import keys
from app.accept import REDIS_UNAVAILABLE_ERRORS, unavailable
from app.body import read_json_body
from app.errors import NotFound
from app.idempotency import parse_key
from app.payment_request import parse_json_object
from app.refund_accept import RefundAcceptor
from app.refund_record import decode_refund, refund_view
from app.refund_request import validate_refund
from app.routes.payments import JSON_MEDIA_TYPE, authenticate
from app.settings import Settings


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
    merchant_id = await authenticate(request)
    settings: Settings = request.app.state.settings
    refund_id = request.path_params["refund_id"]
    partition = keys.partition_of(refund_id, keys.REFUND_ID_PREFIX, settings.stream_partitions)
    if partition is None:
        raise NotFound(f"No refund '{refund_id}'.")
    try:
        raw = await request.app.state.redis.hgetall(keys.refund_key(partition, refund_id))
    except REDIS_UNAVAILABLE_ERRORS:
        raise unavailable() from None
    # Another merchant's refund answers exactly like a missing one.
    if not raw:
        raise NotFound(f"No refund '{refund_id}'.")
    record = decode_refund(raw)
    if record["merchant_id"] != merchant_id:
        raise NotFound(f"No refund '{refund_id}'.")
    body = json.dumps(refund_view(record), separators=(",", ":"))
    return Response(body, media_type=JSON_MEDIA_TYPE)
