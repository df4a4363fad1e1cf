"""The persisted recovery points of payments and refunds: a record read from Redis once, typed,
and moved forward atomically, only from the step the caller last saw, so two workers holding the
same message can never both take the same step. A move answers the record as it then stands, so
a state machine needs one round trip per phase. A refund's final moves also settle its
reservation on the payment, in the same script. A move that publishes an event leaves the
record naming it until its relay is closed (``Outbox``)."""

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic

from app.events.outbox import EVENT_ID_PREFIX, NO_EVENT_ARGUMENTS, OutboxEvent, new_event
from app.events.relay import StoredEvent
from app.payments.record import PAYMENTS, PaymentRecord
from app.queue import keys
from app.queue.batch import Batcher
from app.queue.dispatch import EVENTS_QUEUE
from app.queue.scripts import lua_source
from app.recovery import Record, RecordKind, RecoveryStep, moved
from app.refunds.record import REFUNDS, RefundRecord

LUA_DIRECTORY = Path(__file__).parent / "lua"
ADVANCE_LUA = lua_source(LUA_DIRECTORY, "advance", "publish")
SETTLE_REFUND_LUA = lua_source(LUA_DIRECTORY, "settle_refund", "publish")
RELAYED_LUA = lua_source(LUA_DIRECTORY, "relayed")
#: Names the (unused) event key of a move that publishes nothing, on the record's slot.
NO_EVENT_ID = "none"


class Settlement(enum.Enum):
    #: The money went back: the reservation becomes part of ``amount_refunded``.
    REFUNDED = "refunded"
    #: It did not: the reservation is given back to what remains of the payment.
    RELEASED = "released"


class Handoff(enum.Enum):
    #: The event is in PostgreSQL: its copy in Redis goes.
    RELAYED = "relayed"
    #: Its mover could not write it there: the relay's queue takes it.
    QUEUE = "queue"


class Outbox:
    """Closes the relay of an event a move published (``relayed.lua``): the record that
    published it stops naming it, and it leaves Redis or goes to the relay's queue."""

    def __init__(self, batcher: Batcher) -> None:
        self._close = batcher.script(RELAYED_LUA, replicated=True)

    async def close(self, record_key: str, event_id: str, handoff: Handoff) -> None:
        partition = keys.partition_of_key(record_key)
        event_key = keys.event_key(partition, event_id)
        stream = keys.stream_key(partition, EVENTS_QUEUE)
        await self._close([record_key, event_key, stream], [event_id, handoff.value])


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
    """The outcome of a move: whether it was this caller's, and the record as it now stands;
    and the event this caller's move published, as stored next to the record."""

    moved: bool
    record: Record | None
    published: StoredEvent | None = None


def stored(event: OutboxEvent, seq: int) -> StoredEvent:
    """``event`` as its move stored it, number ``seq`` among its payment's (publish.lua)."""
    return StoredEvent(
        id=event.id,
        type=event.type,
        merchant_id=event.merchant_id,
        payment_id=event.payment_id,
        seq=seq,
        created_ms=keys.created_ms_of(event.id, EVENT_ID_PREFIX),
        body=event.body.decode(),
    )


def field_pairs(fields: Mapping[str, str]) -> list[str]:
    return [item for pair in fields.items() for item in pair]


def as_mapping(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    """HGETALL's field, value, field, value... list as a mapping."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


class RecoveryPoints(Generic[Record]):
    """Records of one kind, found by id: ``prefix`` and ``key_for`` from the key layout."""

    def __init__(
        self, batcher: Batcher, partitions: int, kind: RecordKind[Record], event_ttl_s: int
    ) -> None:
        self._batcher = batcher
        self._partitions = partitions
        self._kind = kind
        #: A stored event outlives any outage the relay could be waiting out.
        self._event_ttl_s = event_ttl_s
        self._advance = batcher.script(ADVANCE_LUA, replicated=True)

    @property
    def noun(self) -> str:
        return self._kind.noun

    @property
    def id_prefix(self) -> str:
        return self._kind.id_prefix

    def key(self, object_id: str) -> str:
        key = self._kind.key_of(object_id, self._partitions)
        if key is None:
            raise ValueError(f"{object_id!r} is not a {self._kind.noun} id of this deployment")
        return key

    async def load(self, object_id: str) -> Record | None:
        raw: Mapping[bytes, bytes] = await self._batcher.command("HGETALL", self.key(object_id))
        return self._kind.decode(raw) if raw else None

    async def apply(self, record: Record, transition: Transition) -> Moved[Record]:
        """Move ``record`` from the step it is at to ``transition.target`` with its fields,
        publishing the event of that step, if it has one, in the same step."""
        if transition.settlement is not None:
            raise ValueError(f"{record.id}: only a refund settles a reservation")
        key = self.key(record.id)
        after = moved(record, transition.target, transition.fields)
        event = self.event_of(after)
        payment_key = self.payment_key(record)
        reply = await self._advance(
            [key, payment_key, *self.event_keys(record, event)],
            [
                record.step.value,
                transition.target.value,
                *self.event_arguments(event),
                *field_pairs(transition.fields),
            ],
        )
        return self._moved(reply, after, event)

    def payment_key(self, record: Record) -> str:
        """The key of the payment ``record`` belongs to, which counts its events: on the
        record's own partition, as every key of one script must be."""
        key = self.key(record.id)
        payment_key = PAYMENTS.key_of(self._kind.payment_of(record), self._partitions)
        if payment_key is None or keys.tag_of(payment_key) != keys.tag_of(key):
            raise RuntimeError(f"Bug: {record.id} is not on its payment's partition")
        return payment_key

    def event_of(self, after: Record) -> OutboxEvent | None:
        """The event a move publishes (with the object as the move leaves it: ``after``), if
        any."""
        event_type = self._kind.events.get(after.step)
        if event_type is None:
            return None
        partition = keys.partition_of_key(self.key(after.id))
        payment_id = self._kind.payment_of(after)
        data = self._kind.view(after)
        return new_event(event_type, partition, after.merchant_id, payment_id, data)

    def event_keys(self, record: Record, event: OutboxEvent | None) -> list[str]:
        """The stored event's key (a placeholder on the record's slot when there is none),
        the relay's queue and the payment's trail, all in the record's partition."""
        partition = keys.partition_of_key(self.key(record.id))
        event_id = event.id if event is not None else NO_EVENT_ID
        return [
            keys.event_key(partition, event_id),
            keys.stream_key(partition, EVENTS_QUEUE),
            keys.trail_key(partition, self._kind.payment_of(record)),
        ]

    def event_arguments(self, event: OutboxEvent | None) -> list[str | bytes | int]:
        stored = event.script_arguments() if event is not None else NO_EVENT_ARGUMENTS
        return [*stored, self._event_ttl_s]

    def _moved(
        self, reply: Sequence[object], after: Record, event: OutboxEvent | None
    ) -> Moved[Record]:
        """A move made answers only its event's number: the record is what this caller wrote
        (``after``, plus the event it now names); a move refused answers the record as another
        worker left it. Reading the whole record back after every move cost a draining worker
        a twentieth of its CPU."""
        made, answer = reply
        if made == 1 and isinstance(answer, int):
            if event is None:
                return Moved(True, after)
            return Moved(True, self._published(after, event, answer), stored(event, answer))
        if made != 0 or not isinstance(answer, list):
            raise TypeError(f"Bug: a move answered {reply!r}")
        return Moved(False, self._kind.decode(as_mapping(answer)) if answer else None)

    def _published(self, after: Record, event: OutboxEvent, seq: int) -> Record:
        """``after`` once its move published ``event``, number ``seq`` among its payment's: the
        record names it (publish.lua)."""
        return moved(after, after.step, {keys.RELAY_PENDING_FIELD: event.id})


class PaymentState(RecoveryPoints[PaymentRecord]):
    def __init__(self, batcher: Batcher, partitions: int, event_ttl_s: int) -> None:
        super().__init__(batcher, partitions, PAYMENTS, event_ttl_s)

    def _published(self, after: PaymentRecord, event: OutboxEvent, seq: int) -> PaymentRecord:
        # A payment holds the count of its events (a refund's are counted on its payment).
        published = {keys.RELAY_PENDING_FIELD: event.id, "event_seq": str(seq)}
        return moved(after, after.step, published)


class RefundState(RecoveryPoints[RefundRecord]):
    def __init__(self, batcher: Batcher, partitions: int, event_ttl_s: int) -> None:
        super().__init__(batcher, partitions, REFUNDS, event_ttl_s)
        self._settle = batcher.script(SETTLE_REFUND_LUA, replicated=True)

    async def apply_to(self, record: RefundRecord, transition: Transition) -> Moved[RefundRecord]:
        """``apply``, settling the reservation on the payment when the transition says so."""
        if transition.settlement is None:
            return await self.apply(record, transition)
        refund_key = self.key(record.id)
        payment_key = self.payment_key(record)
        after = moved(record, transition.target, transition.fields)
        event = self.event_of(after)
        reply = await self._settle(
            [refund_key, payment_key, *self.event_keys(record, event)],
            [
                record.step.value,
                transition.target.value,
                record.amount,
                transition.settlement.value,
                *self.event_arguments(event),
                *field_pairs(transition.fields),
            ],
        )
        return self._moved(reply, after, event)
