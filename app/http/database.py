"""PostgreSQL calls of request handlers: made on a thread, so the event loop keeps serving the
other requests; a database that cannot answer is the client's 503, never a 500."""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from app.errors import Unavailable
from app.history.listing import DATABASE_ERRORS

Result = TypeVar("Result")


async def call(unavailable: str, function: Callable[..., Result], *args: object) -> Result:
    """``function(*args)`` on a thread; ``Unavailable(unavailable)`` while PostgreSQL is down."""
    try:
        return await asyncio.to_thread(function, *args)
    except DATABASE_ERRORS:
        raise Unavailable(unavailable) from None
