"""The console's webhook pages: endpoints and failing deliveries, one event with every delivery
and attempt, and its resend (a changing form: CSRF-checked like the dead-letter replay).

Everything here is read from PostgreSQL on a thread; when PostgreSQL is down the pages say so
rather than fail."""

import asyncio

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.console import session
from app.console.pages import render, settings_of
from app.console.webhook_reads import read as _read
from app.errors import DeliveryInFlight, NotFound
from app.history.listing import DATABASE_ERRORS
from app.queue import keys
from app.queue.batch import Batcher
from app.queue.connection import REDIS_UNAVAILABLE_ERRORS
from app.webhooks import operators
from app.webhooks.queueing import chain_messages

UNAVAILABLE_STATUS = 503


async def webhooks(request: Request) -> Response:
    endpoints = await _read(request, operators.endpoints)
    failing = await _read(request, operators.failing)
    if endpoints is None or failing is None:
        return render(request, "webhooks.html", UNAVAILABLE_STATUS, unavailable=True)
    return render(request, "webhooks.html", endpoints=endpoints, failing=failing)


async def event(request: Request) -> Response:
    event_id = request.path_params["event_id"]
    found = await _read(request, operators.event, event_id)
    if found is None:
        return render(request, "missing.html", 404, what=f"event {event_id}")
    return render(
        request,
        "event.html",
        detail=found,
        resent=request.query_params.get("resent"),
        in_flight=request.query_params.get("in_flight"),
    )


async def resend(request: Request) -> Response:
    await session.check_csrf(request)
    event_id = request.path_params["event_id"]
    target = request.url_for("console:event", event_id=event_id)
    engine: Engine = request.app.state.database
    try:
        chains = await asyncio.to_thread(operators.resend_any, engine, event_id)
    except NotFound:
        return render(request, "missing.html", 404, what=f"event {event_id}")
    except DeliveryInFlight:
        return RedirectResponse(target.include_query_params(in_flight="1"), 303)
    except DATABASE_ERRORS:
        return render(request, "webhooks.html", UNAVAILABLE_STATUS, unavailable=True)
    await _queue(request.app.state.batcher, settings_of(request).stream_partitions, chains)
    return RedirectResponse(target.include_query_params(resent="1"), 303)


async def _queue(batcher: Batcher, partitions: int, chains: list[tuple[str, str]]) -> None:
    # Already due in PostgreSQL: if Redis cannot take a message, the workers' sweep will.
    for stream, message in chain_messages(partitions, chains):
        try:
            await batcher.command("XADD", stream, "*", keys.MESSAGE_FIELD, message)
        except REDIS_UNAVAILABLE_ERRORS:
            return
