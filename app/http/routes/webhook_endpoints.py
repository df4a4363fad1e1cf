"""``/v1/webhook_endpoints``: where a merchant's events are sent. Created idempotently (the
answer, with the signing secret, is kept for replays of the same request), read, listed
(Stripe's list shape) and deleted; all in PostgreSQL, never on the accept path."""

import hashlib
import json

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response

from app.errors import NotFound
from app.http import database
from app.http.access import authenticate, read_mutation
from app.http.lists import list_query, list_response
from app.http.responses import JSON_MEDIA_TYPE, json_response
from app.idempotency import fingerprint
from app.settings import Settings
from app.webhooks import endpoints
from app.webhooks.endpoints import CREATED_STATUS, ENDPOINT_ID_PREFIX, Created, NewEndpoint
from app.webhooks.requests import check_host, validate_endpoint

LIST_URL = "/v1/webhook_endpoints"
OPERATION = "POST /v1/webhook_endpoints"
DATABASE_DOWN = "PostgreSQL, which keeps webhook endpoints, is unavailable; retry shortly."


def _created_response(created: Created) -> Response:
    endpoint_id = json.loads(created.body)["id"]
    headers = {"Location": f"{LIST_URL}/{endpoint_id}"}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(created.body, CREATED_STATUS, headers=headers, media_type=JSON_MEDIA_TYPE)


async def create_endpoint(request: Request) -> Response:
    mutation = await read_mutation(request)
    config: Settings = request.app.state.settings
    engine: Engine = request.app.state.database
    endpoint = validate_endpoint(mutation.document, config.webhook_allow_private_urls)
    new = NewEndpoint(
        merchant_id=mutation.merchant_id,
        url=endpoint.url,
        enabled_events=endpoint.enabled_events,
        key_hash=hashlib.sha256(mutation.client_key.encode()).hexdigest(),
        fingerprint=fingerprint(endpoint.canonical(), OPERATION),
    )
    # A replay gets its first answer back, whatever the host resolves to today.
    replay = await database.call(DATABASE_DOWN, endpoints.earlier, engine, new, mutation.client_key)
    if replay is not None:
        return _created_response(replay)
    await check_host(endpoint.url, config.webhook_allow_private_urls)
    created = await database.call(DATABASE_DOWN, endpoints.create, engine, new, mutation.client_key)
    return _created_response(created)


async def get_endpoint(request: Request) -> Response:
    merchant_id = await authenticate(request)
    endpoint_id = request.path_params["endpoint_id"]
    engine: Engine = request.app.state.database
    body = await database.call(DATABASE_DOWN, endpoints.find, engine, merchant_id, endpoint_id)
    if body is None:
        raise NotFound(f"No webhook endpoint '{endpoint_id}'.")
    return Response(body, media_type=JSON_MEDIA_TYPE)


async def list_endpoints(request: Request) -> Response:
    merchant_id = await authenticate(request)
    page, _ = list_query(request.query_params, ENDPOINT_ID_PREFIX, {})
    engine: Engine = request.app.state.database
    found = await database.call(DATABASE_DOWN, endpoints.list_page, engine, merchant_id, page)
    return list_response(found, LIST_URL)


async def delete_endpoint(request: Request) -> Response:
    merchant_id = await authenticate(request)
    endpoint_id = request.path_params["endpoint_id"]
    engine: Engine = request.app.state.database
    if not await database.call(DATABASE_DOWN, endpoints.delete, engine, merchant_id, endpoint_id):
        raise NotFound(f"No webhook endpoint '{endpoint_id}'.")
    return json_response({"id": endpoint_id, "object": "webhook_endpoint", "deleted": True})
