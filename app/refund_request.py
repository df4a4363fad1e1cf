"""The validated body of ``POST /v1/payments/{id}/refunds``: ``{"amount"?}``, nothing else."""

from dataclasses import dataclass
from typing import Any

from app.errors import InvalidRequest
from app.payment_request import AMOUNT_MAX, AMOUNT_MIN

_FIELDS = frozenset({"amount"})


@dataclass(frozen=True)
class RefundCreate:
    #: Minor units of the payment's currency; None means "what remains of the payment".
    amount: int | None

    def canonical(self) -> dict[str, Any]:
        return {"amount": self.amount}


def _amount(value: object) -> int:
    # bool is an int subclass in Python; true is not an amount.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest("'amount' must be an integer in minor units.", field="amount")
    if not AMOUNT_MIN <= value <= AMOUNT_MAX:
        raise InvalidRequest(
            f"'amount' must be between {AMOUNT_MIN} and {AMOUNT_MAX}.", field="amount"
        )
    return value


def validate_refund(document: dict[str, Any]) -> RefundCreate:
    for key in document:
        if key not in _FIELDS:
            raise InvalidRequest(f"Unknown field '{key}'.", field=key)
    if "amount" not in document:
        return RefundCreate(amount=None)
    return RefundCreate(amount=_amount(document["amount"]))
