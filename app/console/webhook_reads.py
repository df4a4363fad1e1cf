"""The console's reads of webhook data in PostgreSQL, on a thread, shared by the webhook pages
and the payment page."""

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from starlette.requests import Request

from app.history.listing import DATABASE_ERRORS
from app.webhooks import operators

Read = TypeVar("Read")


async def read(request: Request, reader: Callable[..., Read], *args: Any) -> Read | None:
    """``reader(engine, *args)`` on a thread, or None while PostgreSQL cannot answer."""
    engine: Engine = request.app.state.database
    try:
        return await asyncio.to_thread(reader, engine, *args)
    except DATABASE_ERRORS:
        return None


async def payment_events(request: Request, payment_id: str) -> list[operators.EventDetail]:
    """The payment's events, each with its deliveries and attempts (none while PostgreSQL is
    down: the rest of the payment page still shows)."""
    found = await read(request, operators.events, None, payment_id)
    details = []
    for row in found or []:
        detail = await read(request, operators.event, row["id"])
        if detail is not None:
            details.append(detail)
    return details
