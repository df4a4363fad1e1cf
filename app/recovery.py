"""Records with recovery points (payments, refunds): where each kind lives in Redis, and the
persisted step the state machines move.

Each step names, in one place, the status the API shows for it and whether it is final, so the
step tables of payments and refunds cannot drift from their statuses.
"""

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from app.queue import keys


class StoredRecord(Protocol):
    """What every record with a recovery point has: a frozen dataclass with these fields."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def id(self) -> str: ...

    @property
    def merchant_id(self) -> str: ...

    @property
    def step(self) -> "RecoveryStep": ...

    @property
    def relay_pending(self) -> str | None: ...


Record = TypeVar("Record", bound=StoredRecord)
#: Fields a move stores that the typed record holds as integers.
INTEGER_FIELDS = frozenset({"ledger_seq", "action_deadline", "event_seq"})
RELAY_PENDING_FIELD = keys.RELAY_PENDING_FIELD.encode()


@dataclass(frozen=True)
class RecordKind(Generic[Record]):
    """A kind of record: what the API calls it, its id prefix, its Redis key (on the partition
    its id carries), how its hash decodes, its public view, and the event each of its final
    steps publishes."""

    noun: str
    id_prefix: str
    key_for: Callable[[int, str], str]
    decode: Callable[[Mapping[bytes, bytes]], Record]
    view: Callable[[Record], dict[str, Any]]
    #: The payment a record belongs to (a payment's is itself): events of one payment are
    #: delivered in order.
    payment_of: Callable[[Record], str]
    events: Mapping["RecoveryStep", str]

    def key_of(self, object_id: str, partitions: int) -> str | None:
        """The record's key, or None when ``object_id`` is not an id of this kind here."""
        partition = keys.partition_of(object_id, self.id_prefix, partitions)
        return None if partition is None else self.key_for(partition, object_id)


class RecoveryStep(enum.Enum):
    """A step stored as its value; members are ``value, status`` or ``value, status, final``.

    ``Step("charged")`` looks a member up by its stored value, as for any enum; the defaults
    below exist only so type checkers read that lookup right, and a member without its status
    is refused when the class is built.
    """

    status: str
    final: bool

    def __new__(cls, value: str, status: str = "", final: bool = False) -> "RecoveryStep":
        if not status:
            raise TypeError(f"recovery step {value!r} needs the status the API shows for it")
        member = object.__new__(cls)
        member._value_ = value
        member.status = status
        member.final = final
        return member


def text_field(raw: Mapping[bytes, bytes], name: bytes) -> str | None:
    """A record's optional field, as HGETALL gave it."""
    value = raw.get(name)
    return None if value is None else value.decode()


def integer_field(raw: Mapping[bytes, bytes], name: bytes) -> int | None:
    value = raw.get(name)
    return None if value is None else int(value)


def moved(record: Record, step: RecoveryStep, fields: Mapping[str, str]) -> Record:
    """``record`` as a move to ``step`` storing ``fields`` leaves it (the fields of a move are
    named as the record's attributes)."""
    # What dataclasses.replace does, without running the frozen __init__ again field by field:
    # every move of every payment copies its record (1.5 µs this way, 13 µs through replace).
    after = object.__new__(type(record))
    state = after.__dict__
    state.update(record.__dict__)
    for name, value in fields.items():
        if name not in state:
            raise TypeError(f"{type(record).__name__} has no field {name!r}")
        state[name] = int(value) if name in INTEGER_FIELDS else value
    state["step"] = step
    return after
