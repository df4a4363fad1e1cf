"""The payment record kept in Redis: its fields, its recovery point, and its public view.

Redis holds the record (not PostgreSQL) so a payment is readable, and its charge can progress,
while the database is down. The hash has one ``data`` field with what never changes (the
validated request, as JSON: one field packs and stores far cheaper than a dozen), a ``step``
field that is the charge's persisted recovery point, and the fields workers add as it moves:
``amount_refund_pending`` (refunds accepted, not yet settled) and ``amount_refunded`` (refunds
recorded) are integers kept with HINCRBY by the refund accept and the refund actor.
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
) -> dict[str, Any]:
    record = {"id": payment_id, "merchant_id": merchant_id, "created": created_s}
    return record | request.canonical() | {"step": Step.ACCEPTED.value}


def encode(record: Mapping[str, Any]) -> dict[str, str]:
    """The Redis hash fields of a new record."""
    data = {key: value for key, value in record.items() if key != "step"}
    return {"data": json.dumps(data, separators=(",", ":")), "step": record["step"]}


def decode(raw: Mapping[Any, Any]) -> dict[str, Any]:
    """The record as one dict: the request fields, ``step`` and what workers added."""
    fields = {key.decode(): value.decode() for key, value in raw.items()}
    record: dict[str, Any] = json.loads(fields.pop("data"))
    record.update(fields)
    return record


def status_of(step: Step, amount: int, amount_refunded: int) -> str:
    """A succeeded payment reads as (partially) refunded once refunds have been recorded."""
    status = STATUS_BY_STEP[step]
    if status != "succeeded" or amount_refunded == 0:
        return status
    return "refunded" if amount_refunded >= amount else "partially_refunded"


def view(record: Mapping[str, Any]) -> dict[str, Any]:
    """The public JSON of a payment (never the payment method, which stays server-side)."""
    step = Step(record["step"])
    amount_refunded = int(record.get("amount_refunded", 0))
    payment: dict[str, Any] = {
        "id": record["id"],
        "object": "payment",
        "status": status_of(step, record["amount"], amount_refunded),
        "amount": record["amount"],
        "currency": record["currency"],
        "provider": record["provider"],
        "created": record["created"],
        "customer": record["customer"],
        "description": record["description"],
        "metadata": record["metadata"],
        "amount_refunded": amount_refunded,
        "provider_reference": record.get("provider_reference"),
    }
    if step is Step.DECLINED:
        payment["failure"] = {
            "code": record.get("failure_code", "declined"),
            "message": record.get("failure_message", ""),
        }
    if "ledger_transaction_id" in record:
        payment["ledger"] = {
            "transaction_id": record["ledger_transaction_id"],
            "seq": int(record["ledger_seq"]),
        }
    return payment
