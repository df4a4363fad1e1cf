"""The refund's persisted recovery point: read the refund record, move it forward atomically,
and settle its reservation on the payment in the same step."""

import enum
from pathlib import Path
from typing import Any

import redis

from actors.payment_state import ADVANCE_LUA
from app import keys
from app.refund_record import RefundStep, decode_refund

SETTLE_LUA = (Path(__file__).parent / "lua" / "settle_refund.lua").read_text()


class Settlement(enum.Enum):
    #: The money went back: the reservation becomes part of ``amount_refunded``.
    REFUNDED = "refunded"
    #: It did not: the reservation is given back to what remains of the payment.
    RELEASED = "released"


class RefundState:
    def __init__(self, client: redis.Redis, partitions: int) -> None:
        self._client = client
        self._partitions = partitions
        # advance.lua only needs a hash with a "step" field, which a refund record is.
        self._advance = client.register_script(ADVANCE_LUA)
        self._settle = client.register_script(SETTLE_LUA)

    def _partition(self, refund_id: str) -> int:
        partition = keys.partition_of(refund_id, keys.REFUND_ID_PREFIX, self._partitions)
        if partition is None:
            raise ValueError(f"{refund_id!r} is not a refund id of this deployment")
        return partition

    def load(self, refund_id: str) -> dict[str, Any] | None:
        raw = self._client.hgetall(keys.refund_key(self._partition(refund_id), refund_id))
        return decode_refund(raw) if raw else None

    def advance(
        self,
        refund_id: str,
        expected: RefundStep,
        target: RefundStep,
        fields: dict[str, str] | None = None,
    ) -> bool:
        """Move ``expected`` → ``target``; False when another worker moved the record first."""
        pairs = [item for pair in (fields or {}).items() for item in pair]
        key = keys.refund_key(self._partition(refund_id), refund_id)
        result = self._advance(keys=[key], args=[expected.value, target.value, *pairs])
        return result == 1

    def settle(
        self,
        record: dict[str, Any],
        expected: RefundStep,
        target: RefundStep,
        settlement: Settlement,
        fields: dict[str, str] | None = None,
    ) -> bool:
        """``advance`` plus the reservation's settlement on the payment, atomically."""
        partition = self._partition(record["id"])
        payment_partition = keys.partition_of(
            record["payment_id"], keys.PAYMENT_ID_PREFIX, self._partitions
        )
        if payment_partition != partition:
            raise RuntimeError(f"Bug: refund {record['id']} is not on its payment's partition")
        pairs = [item for pair in (fields or {}).items() for item in pair]
        result = self._settle(
            keys=[
                keys.refund_key(partition, record["id"]),
                keys.payment_key(partition, record["payment_id"]),
            ],
            args=[expected.value, target.value, record["amount"], settlement.value, *pairs],
        )
        return result == 1
