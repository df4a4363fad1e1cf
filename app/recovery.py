"""Records with recovery points (payments, refunds): where each kind lives in Redis, and the
persisted step the state machines move.

Each step names, in one place, the status the API shows for it and whether it is final, so the
step tables of payments and refunds cannot drift from their statuses.
"""

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.queue import keys

Record = TypeVar("Record")


@dataclass(frozen=True)
class RecordKind(Generic[Record]):
    """A kind of record: what the API calls it, its id prefix, its Redis key (on the partition
    its id carries) and how its hash decodes."""

    noun: str
    id_prefix: str
    key_for: Callable[[int, str], str]
    decode: Callable[[Mapping[bytes, bytes]], Record]

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
