"""The payment record kept in Redis: its fields, its recovery point, and its public view.

Redis holds the record (not PostgreSQL) so a payment is readable, and its charge can progress,
while the database is down. The ``step`` field is the charge's persisted recovery point.
"""

import enum
import json
from collections.abc import Mapping
from typing import Any

from app.payment_request import PaymentRequest


class Step(enum.Enum):
    ACCEPTED = "accepted"
    PREPARED = "prepared"
    CHARGING = "charging"
    UNKNOWN = "unknown"
    CHARGED = "charged"
    DECLINED = "declined"
    REQUIRES_ACTION = "requires_action"
    RECORDED = "recorded"


STATUS_BY_STEP = {
    Step.ACCEPTED: "pending",
    Step.PREPARED: "processing",
    Step.CHARGING: "processing",
    Step.UNKNOWN: "processing",
    Step.CHARGED: "succeeded",
    Step.RECORDED: "succeeded",
    Step.DECLINED: "failed",
    Step.REQUIRES_ACTION: "requires_action",
}
TERMINAL_STEPS = frozenset({Step.RECORDED, Step.DECLINED, Step.REQUIRES_ACTION})


def new_record(
    payment_id: str, merchant_id: str, request: PaymentRequest, created_s: int
) -> dict[str, str]:
    return {
        "id": payment_id,
        "merchant_id": merchant_id,
        "amount": str(request.amount),
        "currency": request.currency,
        "provider": request.provider,
        "payment_method": request.payment_method,
        "customer": json.dumps(request.customer, sort_keys=True),
        "description": "" if request.description is None else request.description,
        "has_description": "1" if request.description is not None else "0",
        "metadata": json.dumps(request.metadata, sort_keys=True),
        "created": str(created_s),
        "step": Step.ACCEPTED.value,
        "amount_refunded": "0",
    }


def decode(raw: Mapping[bytes, bytes]) -> dict[str, str]:
    return {key.decode(): value.decode() for key, value in raw.items()}


def view(record: Mapping[str, str]) -> dict[str, Any]:
    """The public JSON of a payment (never the payment method, which stays server-side)."""
    step = Step(record["step"])
    payment: dict[str, Any] = {
        "id": record["id"],
        "object": "payment",
        "status": STATUS_BY_STEP[step],
        "amount": int(record["amount"]),
        "currency": record["currency"],
        "provider": record["provider"],
        "created": int(record["created"]),
        "customer": json.loads(record["customer"]),
        "description": record["description"] if record["has_description"] == "1" else None,
        "metadata": json.loads(record["metadata"]),
        "amount_refunded": int(record["amount_refunded"]),
        "provider_reference": record.get("provider_reference") or None,
    }
    if step is Step.DECLINED:
        payment["failure"] = {
            "code": record.get("failure_code", "unknown"),
            "message": record.get("failure_message", ""),
        }
    if "ledger_transaction_id" in record:
        payment["ledger"] = {
            "transaction_id": record["ledger_transaction_id"],
            "seq": int(record["ledger_seq"]),
        }
    return payment
