"""``/v1/payments``: accept a payment idempotently, and read one back."""

import json

from starlette.requests import Request
from starlette.responses import Response

from app import keys
from app.accept import REDIS_UNAVAILABLE_ERRORS, Acceptor, unavailable
from app.auth import Authenticator
from app.body import read_json_body
from app.errors import NotFound
from app.idempotency import parse_key
from app.metrics import PAYMENTS_ACCEPTED, PAYMENTS_REPLAYED
from app.payment_record import decode, view
from app.payment_request import parse_json_object, validate
from app.settings import Settings

JSON_MEDIA_TYPE = "application/json"


async def authenticate(request: Request) -> str:
    authenticator: Authenticator = request.app.state.authenticator
    try:
        return await authenticator.merchant_for(request.headers)
    except REDIS_UNAVAILABLE_ERRORS:
        raise unavailable() from None


async def create_payment(request: Request) -> Response:
    merchant_id = await authenticate(request)
    client_key = parse_key(request.headers)
    body = await read_json_body(request)
    payment_request = validate(parse_json_object(body))
    acceptor: Acceptor = request.app.state.acceptor
    answer = await acceptor.accept(merchant_id, client_key, payment_request)
    headers = {"Location": answer.location}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
        PAYMENTS_REPLAYED.inc()
    else:
        PAYMENTS_ACCEPTED.inc()
    return Response(answer.body, answer.status, headers=headers, media_type=JSON_MEDIA_TYPE)


async def get_payment(request: Request) -> Response:
    merchant_id = await authenticate(request)
    settings: Settings = request.app.state.settings
    payment_id = request.path_params["payment_id"]
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, settings.stream_partitions)
    if partition is None:
        raise NotFound(f"No payment '{payment_id}'.")
    try:
        raw = await request.app.state.redis.hgetall(keys.payment_key(partition, payment_id))
    except REDIS_UNAVAILABLE_ERRORS:
        raise unavailable() from None
    # Another merchant's payment answers exactly like a missing one.
    if not raw:
        raise NotFound(f"No payment '{payment_id}'.")
    record = decode(raw)
    if record["merchant_id"] != merchant_id:
        raise NotFound(f"No payment '{payment_id}'.")
    return Response(json.dumps(view(record), separators=(",", ":")), media_type=JSON_MEDIA_TYPE)
