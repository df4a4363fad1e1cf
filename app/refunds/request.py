"""The validated body of ``POST /v1/payments/{id}/refunds``: ``{"amount"?}``, nothing else."""

from dataclasses import dataclass
from typing import Any

from app.errors import InvalidRequest
from app.money import validated_amount

_FIELDS = frozenset({"amount"})


@dataclass(frozen=True)
class RefundCreate:
    #: Minor units of the payment's currency; None means "what remains of the payment".
    amount: int | None

    def canonical(self) -> dict[str, Any]:
        return {"amount": self.amount}


def validate_refund(document: dict[str, Any]) -> RefundCreate:
    for key in document:
        if key not in _FIELDS:
            raise InvalidRequest(f"Unknown field '{key}'.", field=key)
    if "amount" not in document:
        return RefundCreate(amount=None)
    return RefundCreate(amount=validated_amount(document["amount"]))
