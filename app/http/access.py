"""Who is asking, and what they ask to change: the merchant behind the bearer key, and the
mutations they send under an Idempotency-Key.

Each step takes the request's parts (its headers, its ASGI scope, its body chunks) rather than
a Starlette ``Request``, so the plain-ASGI payment route and the Starlette routes share them.
"""

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import State
from starlette.requests import Request
from starlette.types import Scope

from app import logs
from app.errors import UnsupportedMediaType
from app.http.auth import Authenticator
from app.http.body import (
    BODY_BYTES_MAX,
    JSON_ONLY,
    parse_json_object,
    read_json_body,
    read_limited,
)
from app.http.idempotency_header import parse_key
from app.queue.connection import unavailable_as_503


async def authenticate(request: Request) -> str:
    return await merchant_of(request.app.state, request.headers, request.scope)


async def merchant_of(app_state: State, headers: Mapping[str, str], scope: Scope) -> str:
    authenticator: Authenticator = app_state.authenticator
    with unavailable_as_503():
        merchant_id = await authenticator.merchant_for(headers)
    # For the access line (app.http.request_log) and every other line of this request.
    scope.setdefault("state", {})["merchant_id"] = merchant_id
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
    return await mutation_of(
        request.app.state, request.headers, request.scope, request.stream(), empty_body_means
    )


async def mutation_of(
    app_state: State,
    headers: Mapping[str, str],
    scope: Scope,
    chunks: AsyncIterator[bytes],
    empty_body_means: dict[str, Any] | None = None,
) -> Mutation:
    merchant_id = await merchant_of(app_state, headers, scope)
    client_key = parse_key(headers)
    if empty_body_means is not None and "content-type" not in headers:
        # No body at all has no media type to declare: where the body is optional, that is
        # the default. A body sent without its type is still refused.
        if await read_limited(headers, chunks, BODY_BYTES_MAX):
            raise UnsupportedMediaType(JSON_ONLY)
        return Mutation(merchant_id, client_key, empty_body_means)
    body = await read_json_body(headers, chunks)
    if empty_body_means is not None and not body.strip():
        return Mutation(merchant_id, client_key, empty_body_means)
    return Mutation(merchant_id, client_key, parse_json_object(body))
