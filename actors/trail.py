"""A payment's trail, written by the worker: each provider call next to the moves the state
scripts write (``advance.lua``), so an operator sees why a payment is where it is."""

import logging

from app.queue import keys
from app.queue.batch import Batcher
from app.queue.connection import REDIS_UNAVAILABLE_ERRORS

logger = logging.getLogger(__name__)


class Trail:
    def __init__(self, batcher: Batcher, partitions: int, ttl_s: int) -> None:
        self._batcher = batcher
        self._partitions = partitions
        #: As long as the payment's record: a trail explains a record, not a memory of one.
        self._ttl_s = ttl_s

    async def call(self, payment_id: str, call: str, outcome: str, latency_ms: int) -> None:
        partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, self._partitions)
        if partition is None:
            return
        key = keys.trail_key(partition, payment_id)
        try:
            await self._batcher.commands(
                ("XADD", key, "MAXLEN", "~", keys.TRAIL_ENTRIES_MAX, "*",
                 "call", call, "outcome", outcome, "latency_ms", latency_ms),
                ("EXPIRE", key, self._ttl_s),
            )  # fmt: skip
        except REDIS_UNAVAILABLE_ERRORS:
            # A lost line of the trail is no reason to fail a payment whose call went out.
            logger.warning("trail of %s: %s not written", payment_id, call)
