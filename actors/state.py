"""The persisted recovery points of payments and refunds: read a record from Redis once, typed,
and move its step forward atomically, only from the step the caller last saw (so two workers
holding the same message can never both take the same step). A refund's final moves also
settle its reservation on the payment, in the same script."""

import enum
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Generic, TypeVar, cast

import redis

from app.payments.record import PaymentRecord
from app.payments.record import decode as decode_payment
from app.queue import keys
from app.queue.scripts import lua_source
from app.recovery import RecoveryStep
from app.refunds.record import RefundRecord
from app.refunds.record import decode as decode_refund

LUA_DIRECTORY = Path(__file__).parent / "lua"
ADVANCE_LUA = lua_source(LUA_DIRECTORY, "advance")
SETTLE_REFUND_LUA = lua_source(LUA_DIRECTORY, "settle_refund")

Record = TypeVar("Record")


class Settlement(enum.Enum):
    #: The money went back: the reservation becomes part of ``amount_refunded``.
    REFUNDED = "refunded"
    #: It did not: the reservation is given back to what remains of the payment.
    RELEASED = "released"


def field_pairs(fields: Mapping[str, str] | None) -> list[str]:
    return [item for pair in (fields or {}).items() for item in pair]


class RecoveryPoints(Generic[Record]):
    """Records of one kind, found by id: ``prefix`` and ``key_for`` from the key layout."""

    def __init__(
        self,
        client: redis.Redis,
        partitions: int,
        prefix: str,
        key_for: Callable[[int, str], str],
        decode: Callable[[Mapping[bytes, bytes]], Record],
    ) -> None:
        self._client = client
        self._partitions = partitions
        self._prefix = prefix
        self._key_for = key_for
        self._decode = decode
        self._advance = client.register_script(ADVANCE_LUA)

    def partition(self, object_id: str) -> int:
        partition = keys.partition_of(object_id, self._prefix, self._partitions)
        if partition is None:
            raise ValueError(f"{object_id!r} is not an id of this deployment")
        return partition

    def key(self, object_id: str) -> str:
        return self._key_for(self.partition(object_id), object_id)

    def load(self, object_id: str) -> Record | None:
        # Bytes in, bytes out: the client never decodes responses.
        raw = cast(Mapping[bytes, bytes], self._client.hgetall(self.key(object_id)))
        return self._decode(raw) if raw else None

    def advance(
        self,
        object_id: str,
        expected: RecoveryStep,
        target: RecoveryStep,
        fields: Mapping[str, str] | None = None,
    ) -> bool:
        """Move ``expected`` → ``target``; False when another worker moved the record first."""
        result = self._advance(
            keys=[self.key(object_id)], args=[expected.value, target.value, *field_pairs(fields)]
        )
        return result == 1


class PaymentState(RecoveryPoints[PaymentRecord]):
    def __init__(self, client: redis.Redis, partitions: int) -> None:
        super().__init__(
            client, partitions, keys.PAYMENT_ID_PREFIX, keys.payment_key, decode_payment
        )


class RefundState(RecoveryPoints[RefundRecord]):
    def __init__(self, client: redis.Redis, partitions: int) -> None:
        super().__init__(client, partitions, keys.REFUND_ID_PREFIX, keys.refund_key, decode_refund)
        self._settle = client.register_script(SETTLE_REFUND_LUA)

    def settle(
        self,
        record: RefundRecord,
        expected: RecoveryStep,
        target: RecoveryStep,
        settlement: Settlement,
        fields: Mapping[str, str] | None = None,
    ) -> bool:
        """``advance`` plus the reservation's settlement on the payment, atomically."""
        partition = self.partition(record.id)
        payment_partition = keys.partition_of(
            record.payment_id, keys.PAYMENT_ID_PREFIX, self._partitions
        )
        if payment_partition != partition:
            raise RuntimeError(f"Bug: refund {record.id} is not on its payment's partition")
        result = self._settle(
            keys=[
                keys.refund_key(partition, record.id),
                keys.payment_key(partition, record.payment_id),
            ],
            args=[
                expected.value,
                target.value,
                record.amount,
                settlement.value,
                *field_pairs(fields),
            ],
        )
        return result == 1
