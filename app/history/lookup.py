"""Finding one payment or refund: in Redis while it holds the record (the live state), else
in the history. Neither store able to answer is a 503, never a false 404."""

import asyncio
import json
from collections.abc import Callable, Mapping

from sqlalchemy import Engine

from app.errors import Unavailable
from app.history.listing import DATABASE_ERRORS
from app.queue.batch import Batcher
from app.queue.connection import REDIS_UNAVAILABLE_ERRORS
from app.recovery import Record, RecordKind

#: Reads an object's JSON from the history: (engine, merchant id, object id).
HistoryRead = Callable[[Engine, str, str], str | None]


class Lookup:
    def __init__(self, batcher: Batcher, engine: Engine, partitions: int) -> None:
        self._batcher = batcher
        self._engine = engine
        self._partitions = partitions

    async def find(
        self, kind: RecordKind[Record], merchant_id: str, object_id: str, history: HistoryRead
    ) -> str | None:
        """The merchant's object as JSON, or None when it is not theirs or does not exist."""
        key = kind.key_of(object_id, self._partitions)
        if key is None:
            return None
        redis_down = False
        raw: Mapping[bytes, bytes] = {}
        try:
            raw = await self._batcher.command("HGETALL", key)
        except REDIS_UNAVAILABLE_ERRORS:
            redis_down = True
        if raw:
            record = kind.decode(raw)
            # Another merchant's record answers exactly like a missing one.
            if record.merchant_id != merchant_id:
                return None
            return json.dumps(kind.view(record), separators=(",", ":"))
        try:
            found = await asyncio.to_thread(history, self._engine, merchant_id, object_id)
        except DATABASE_ERRORS:
            raise Unavailable(
                f"Neither Redis nor PostgreSQL could tell whether {kind.noun} '{object_id}' "
                "exists; retry shortly."
            ) from None
        if found is None and redis_down:
            raise Unavailable(
                f"Redis is unavailable and the history has no {kind.noun} '{object_id}' (yet); "
                "retry shortly."
            )
        return found
