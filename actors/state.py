"""The persisted recovery points of payments and refunds: a record read from Redis once, typed,
and moved forward atomically, only from the step the caller last saw, so two workers holding the
same message can never both take the same step. A move answers the record as it then stands, so
a state machine needs one round trip per phase. A refund's final moves also settle its
reservation on the payment, in the same script."""

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from app.payments.record import PaymentRecord
from app.payments.record import decode as decode_payment
from app.queue import keys
from app.queue.batch import Batcher
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


@dataclass(frozen=True)
class Transition:
    """Where a phase moves its record: the target step and the fields stored with it; for a
    refund's final moves, how its reservation settles; and what to raise once the move is
    stored (a wait or a retry), so a message learns of it only after its record has."""

    target: RecoveryStep
    fields: Mapping[str, str] = field(default_factory=dict)
    settlement: Settlement | None = None
    then: Exception | None = None


@dataclass(frozen=True)
class Moved(Generic[Record]):
    """The outcome of a move: whether it was this caller's, and the record as it now stands."""

    moved: bool
    record: Record | None


def field_pairs(fields: Mapping[str, str]) -> list[str]:
    return [item for pair in fields.items() for item in pair]


def as_mapping(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    """HGETALL's field, value, field, value... list as a mapping."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


class RecoveryPoints(Generic[Record]):
    """Records of one kind, found by id: ``prefix`` and ``key_for`` from the key layout."""

    def __init__(
        self,
        batcher: Batcher,
        partitions: int,
        prefix: str,
        key_for: Callable[[int, str], str],
        decode: Callable[[Mapping[bytes, bytes]], Record],
    ) -> None:
        self._batcher = batcher
        self._partitions = partitions
        self._prefix = prefix
        self._key_for = key_for
        self._decode = decode
        self._advance = batcher.script(ADVANCE_LUA)

    def partition(self, object_id: str) -> int:
        partition = keys.partition_of(object_id, self._prefix, self._partitions)
        if partition is None:
            raise ValueError(f"{object_id!r} is not an id of this deployment")
        return partition

    def key(self, object_id: str) -> str:
        return self._key_for(self.partition(object_id), object_id)

    async def load(self, object_id: str) -> Record | None:
        raw: Mapping[bytes, bytes] = await self._batcher.command("HGETALL", self.key(object_id))
        return self._decode(raw) if raw else None

    async def apply(
        self, object_id: str, expected: RecoveryStep, transition: Transition
    ) -> Moved[Record]:
        """Move ``expected`` → ``transition.target`` with its fields."""
        if transition.settlement is not None:
            raise ValueError(f"{object_id}: only a refund settles a reservation")
        reply = await self._advance(
            [self.key(object_id)],
            [expected.value, transition.target.value, *field_pairs(transition.fields)],
        )
        return self._moved(reply)

    def _moved(self, reply: Sequence[object]) -> Moved[Record]:
        moved, flat = reply
        if not isinstance(flat, list):
            raise TypeError(f"Bug: a move answered {reply!r}")
        return Moved(moved == 1, self._decode(as_mapping(flat)) if flat else None)


class PaymentState(RecoveryPoints[PaymentRecord]):
    def __init__(self, batcher: Batcher, partitions: int) -> None:
        super().__init__(
            batcher, partitions, keys.PAYMENT_ID_PREFIX, keys.payment_key, decode_payment
        )


class RefundState(RecoveryPoints[RefundRecord]):
    def __init__(self, batcher: Batcher, partitions: int) -> None:
        super().__init__(batcher, partitions, keys.REFUND_ID_PREFIX, keys.refund_key, decode_refund)
        self._settle = batcher.script(SETTLE_REFUND_LUA)

    async def apply_to(self, record: RefundRecord, transition: Transition) -> Moved[RefundRecord]:
        """``apply``, settling the reservation on the payment when the transition says so."""
        if transition.settlement is None:
            return await self.apply(record.id, record.step, transition)
        partition = self.partition(record.id)
        payment_partition = keys.partition_of(
            record.payment_id, keys.PAYMENT_ID_PREFIX, self._partitions
        )
        if payment_partition != partition:
            raise RuntimeError(f"Bug: refund {record.id} is not on its payment's partition")
        reply = await self._settle(
            [keys.refund_key(partition, record.id), keys.payment_key(partition, record.payment_id)],
            [
                record.step.value,
                transition.target.value,
                record.amount,
                transition.settlement.value,
                *field_pairs(transition.fields),
            ],
        )
        return self._moved(reply)
