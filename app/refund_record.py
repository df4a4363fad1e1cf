"""The refund record kept in Redis next to its payment: its fields, recovery point and view.

The hash is flat: what the accept writes (``id``, ``payment_id``, ``merchant_id``, ``amount``,
``currency``, ``provider``, ``payment_reference`` = the payment's provider reference,
``created``), the ``step`` that is the refund's persisted recovery point, and what the refund
actor adds (``provider_refund_reference``, ``failure_code``/``failure_message``, ``ledger_*``).
"""

import enum
from collections.abc import Mapping
from typing import Any


class RefundStep(enum.Enum):
    REQUESTED = "requested"
    REFUNDING = "refunding"
    UNKNOWN = "unknown"
    REFUNDED = "refunded"
    FAILED = "failed"
    RECORDED = "recorded"


STATUS_BY_REFUND_STEP = {
    RefundStep.REQUESTED: "pending",
    RefundStep.REFUNDING: "pending",
    RefundStep.UNKNOWN: "pending",
    RefundStep.REFUNDED: "succeeded",
    RefundStep.RECORDED: "succeeded",
    RefundStep.FAILED: "failed",
}
TERMINAL_REFUND_STEPS = frozenset({RefundStep.RECORDED, RefundStep.FAILED})
#: Fields the accept writes as integers.
_INTEGER_FIELDS = frozenset({"amount", "created"})


def decode_refund(raw: Mapping[Any, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {key.decode(): value.decode() for key, value in raw.items()}
    for name in _INTEGER_FIELDS:
        record[name] = int(record[name])
    return record


def refund_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """The public JSON of a refund; key order matches the 202 the accept answers."""
    step = RefundStep(record["step"])
    refund: dict[str, Any] = {
        "id": record["id"],
        "object": "refund",
        "status": STATUS_BY_REFUND_STEP[step],
        "amount": record["amount"],
        "currency": record["currency"],
        "payment": record["payment_id"],
        "created": record["created"],
    }
    if step is RefundStep.FAILED:
        refund["failure"] = {
            "code": record.get("failure_code", "refund_failed"),
            "message": record.get("failure_message", ""),
        }
    return refund
