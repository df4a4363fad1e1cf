"""Taking in verified provider events (``receive.lua``): each one once, on its payment's
partition, with the message that applies it."""

import enum
import time
from pathlib import Path

from app.providers.events import ProviderEvent, encode
from app.queue import keys
from app.queue.batch import Batcher
from app.queue.connection import unavailable_as_503
from app.queue.dispatch import PAYMENTS_QUEUE, provider_event_message
from app.queue.scripts import lua_source
from app.settings import Settings

RECEIVE_LUA = lua_source(Path(__file__).parent, "receive")
#: How long an event id is remembered: past the longest a provider retries one delivery
#: (Stripe: 3 days; Paystack: 72 hours).
EVENT_ID_TTL_S = 7 * 24 * 3600


class Receipt(enum.Enum):
    #: Stored and queued: the worker applies it.
    TAKEN = "taken"
    #: Taken before: nothing happens a second time.
    DUPLICATE = "duplicate"
    #: About a payment we do not know: ignored.
    UNKNOWN = "unknown"


class Inbox:
    def __init__(self, batcher: Batcher, settings: Settings) -> None:
        self._settings = settings
        self._script = batcher.script(RECEIVE_LUA, replicated=True)

    async def receive(self, event: ProviderEvent) -> Receipt:
        """One event in; a Redis that cannot take it answers 503, so the provider retries."""
        partition = keys.partition_of(
            event.payment_id, keys.PAYMENT_ID_PREFIX, self._settings.stream_partitions
        )
        if partition is None:
            return Receipt.UNKNOWN
        script_keys = [
            keys.provider_event_key(partition, event.provider, event.event_id),
            keys.payment_key(partition, event.payment_id),
            keys.stream_key(partition, PAYMENTS_QUEUE),
        ]
        received_ms = time.time_ns() // 1_000_000
        message = provider_event_message(encode(event), received_ms, partition)
        with unavailable_as_503():
            result = await self._script(
                script_keys, [event.type, received_ms // 1000, EVENT_ID_TTL_S, message]
            )
        return Receipt(result.decode())
