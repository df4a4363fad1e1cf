"""Recovery points: the persisted step of a payment or refund, as the state machines move it.

Each step names, in one place, the status the API shows for it and whether it is final, so the
step tables of payments and refunds cannot drift from their statuses.
"""

import enum


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
