"""The charge's persisted recovery point: read the payment record, move it forward atomically."""

from pathlib import Path
from typing import Any

import redis

from app import keys
from app.payment_record import Step, decode

ADVANCE_LUA = (Path(__file__).parent / "lua" / "advance.lua").read_text()


class PaymentState:
    def __init__(self, client: redis.Redis, partitions: int) -> None:
        self._client = client
        self._partitions = partitions
        self._advance = client.register_script(ADVANCE_LUA)

    def _key(self, payment_id: str) -> str:
        partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, self._partitions)
        if partition is None:
            raise ValueError(f"{payment_id!r} is not a payment id of this deployment")
        return keys.payment_key(partition, payment_id)

    def load(self, payment_id: str) -> dict[str, Any] | None:
        raw = self._client.hgetall(self._key(payment_id))
        return decode(raw) if raw else None

    def advance(
        self, payment_id: str, expected: Step, target: Step, fields: dict[str, str] | None = None
    ) -> bool:
        """Move ``expected`` → ``target``; False when another worker moved the record first."""
        pairs = [item for pair in (fields or {}).items() for item in pair]
        result = self._advance(
            keys=[self._key(payment_id)], args=[expected.value, target.value, *pairs]
        )
        return result == 1
