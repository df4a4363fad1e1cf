"""Who is asking, and what they ask to change: the merchant behind the bearer key, and the
mutations they send under an Idempotency-Key."""

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from app import logs
from app.http.auth import Authenticator
from app.http.body import parse_json_object, read_json_body
from app.http.idempotency_header import parse_key
from app.queue.connection import unavailable_as_503


async def authenticate(request: Request) -> str:
    authenticator: Authenticator = request.app.state.authenticator
    with unavailable_as_503():
        merchant_id = await authenticator.merchant_for(request.headers)
    # For the access line (app.http.request_log) and every other line of this request.
    request.state.merchant_id = merchant_id
    logs.bind(merchant_id=merchant_id)
    return merchant_id


@dataclass(frozen=True)
class Mutation:
    """A changing request, checked in the order a client is told what is wrong with it."""

    merchant_id: str
    client_key: str
    document: dict[str, Any]


async def read_mutation(
    request: Request, *, empty_body_means: dict[str, Any] | None = None
) -> Mutation:
    """Who asks, under which Idempotency-Key, with which JSON object; an empty body stands for
    ``empty_body_means`` where the route allows one."""
    merchant_id = await authenticate(request)
    client_key = parse_key(request.headers)
    body = await read_json_body(request)
    if empty_body_means is not None and not body.strip():
        return Mutation(merchant_id, client_key, empty_body_means)
    return Mutation(merchant_id, client_key, parse_json_object(body))
