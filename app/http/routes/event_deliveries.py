"""``/v1/events/{id}/attempts`` and ``/v1/events/{id}/resend``: every webhook attempt of an
event, and sending it again now."""

import json

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response

from app.http import database
from app.http.access import authenticate
from app.http.responses import JSON_MEDIA_TYPE, json_response
from app.queue import keys
from app.queue.batch import Batcher
from app.queue.connection import REDIS_UNAVAILABLE_ERRORS
from app.settings import Settings
from app.webhooks import resend
from app.webhooks.queueing import chain_messages

DATABASE_DOWN = "PostgreSQL, which keeps webhook deliveries, is unavailable; retry shortly."
RESENT_STATUS = 202


async def list_attempts(request: Request) -> Response:
    merchant_id = await authenticate(request)
    event_id = request.path_params["event_id"]
    engine: Engine = request.app.state.database
    found = await database.call(DATABASE_DOWN, resend.attempts, engine, merchant_id, event_id)
    url = f"/v1/events/{event_id}/attempts"
    return json_response(
        {"object": "list", "url": url, "has_more": found.has_more, "data": found.data}
    )


async def queue_chains(batcher: Batcher, config: Settings, chains: list[tuple[str, str]]) -> None:
    """A message for each chain; when Redis cannot take one, the worker's sweep finds the
    delivery due in PostgreSQL and queues it instead."""
    for stream, message in chain_messages(config.stream_partitions, chains):
        try:
            await batcher.command("XADD", stream, "*", keys.MESSAGE_FIELD, message)
        except REDIS_UNAVAILABLE_ERRORS:
            return


async def resend_event(request: Request) -> Response:
    merchant_id = await authenticate(request)
    event_id = request.path_params["event_id"]
    engine: Engine = request.app.state.database
    chains = await database.call(DATABASE_DOWN, resend.resend, engine, merchant_id, event_id)
    await queue_chains(request.app.state.batcher, request.app.state.settings, chains)
    endpoint_ids = sorted({endpoint_id for endpoint_id, _ in chains})
    document = {"id": event_id, "object": "event", "resent_to": endpoint_ids}
    return Response(json.dumps(document), RESENT_STATUS, media_type=JSON_MEDIA_TYPE)
