"""``/v1/payments``: accept a payment idempotently, and read one back."""

import json
from collections.abc import Callable
from typing import Any

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


async def owned_record(
    request: Request,
    noun: str,
    object_id: str,
    prefix: str,
    key_for: Callable[[int, str], str],
    decode_record: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """One of this merchant's objects read from Redis by its id; anything else is a 404."""
    merchant_id = await authenticate(request)
    settings: Settings = request.app.state.settings
    missing = NotFound(f"No {noun} '{object_id}'.")
    partition = keys.partition_of(object_id, prefix, settings.stream_partitions)
    if partition is None:
        raise missing
    try:
        raw = await request.app.state.redis.hgetall(key_for(partition, object_id))
    except REDIS_UNAVAILABLE_ERRORS:
        raise unavailable() from None
    # Another merchant's object answers exactly like a missing one.
    if not raw:
        raise missing
    record = decode_record(raw)
    if record["merchant_id"] != merchant_id:
        raise missing
    return record


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
    payment_id = request.path_params["payment_id"]
    record = await owned_record(
        request, "payment", payment_id, keys.PAYMENT_ID_PREFIX, keys.payment_key, decode
    )
    return Response(json.dumps(view(record), separators=(",", ":")), media_type=JSON_MEDIA_TYPE)
