"""``/v1/events``: the merchant's events, from PostgreSQL where the relay keeps them (an event
not relayed yet is found in Redis, next to the record whose move wrote it)."""

import asyncio

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response

from app.errors import NotFound, Unavailable
from app.events import read
from app.events.outbox import EVENT_ID_PREFIX, EVENT_TYPES
from app.history.listing import DATABASE_ERRORS
from app.http import database
from app.http.access import authenticate
from app.http.lists import list_query, list_response
from app.http.responses import JSON_MEDIA_TYPE
from app.queue import keys
from app.queue.batch import Batcher
from app.queue.connection import REDIS_UNAVAILABLE_ERRORS
from app.settings import Settings

LIST_URL = "/v1/events"
LIST_FILTERS = {"type": frozenset(EVENT_TYPES)}
DATABASE_DOWN = "PostgreSQL, which keeps events, is unavailable; retry shortly."


async def list_events(request: Request) -> Response:
    merchant_id = await authenticate(request)
    page, filters = list_query(request.query_params, EVENT_ID_PREFIX, LIST_FILTERS)
    engine: Engine = request.app.state.database
    found = await database.call(
        DATABASE_DOWN, read.list_page, engine, merchant_id, page, filters.get("type")
    )
    return list_response(found, LIST_URL)


async def get_event(request: Request) -> Response:
    merchant_id = await authenticate(request)
    event_id = request.path_params["event_id"]
    settings: Settings = request.app.state.settings
    partition = keys.partition_of(event_id, EVENT_ID_PREFIX, settings.stream_partitions)
    if partition is None:
        raise NotFound(f"No event '{event_id}'.")
    engine: Engine = request.app.state.database
    database_down = False
    try:
        body = await asyncio.to_thread(read.find, engine, merchant_id, event_id)
    except DATABASE_ERRORS:
        database_down, body = True, None
    if body is None:
        body = await _not_relayed_yet(request.app.state.batcher, partition, merchant_id, event_id)
    if body is None:
        if database_down:
            raise Unavailable(DATABASE_DOWN)
        raise NotFound(f"No event '{event_id}'.")
    return Response(body, media_type=JSON_MEDIA_TYPE)


async def _not_relayed_yet(
    batcher: Batcher, partition: int, merchant_id: str, event_id: str
) -> str | None:
    try:
        merchant, body = await batcher.command(
            "HMGET", keys.event_key(partition, event_id), "merchant", "body"
        )
    except REDIS_UNAVAILABLE_ERRORS:
        return None
    if merchant is None or merchant.decode() != merchant_id:
        return None
    return str(body.decode())
