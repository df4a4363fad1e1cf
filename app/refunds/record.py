"""The refund record kept in Redis next to its payment: its typed form, recovery point and view.

The hash is flat: what the accept writes (``id``, ``payment_id``, ``merchant_id``, ``amount``,
``currency``, ``provider``, ``payment_reference`` = the payment's provider reference,
``created``), the ``step`` that is the refund's persisted recovery point, and what the refund
actor adds (``provider_refund_reference``, ``failure_code``/``failure_message``, ``ledger_*``),
and the event its last move published while not yet relayed (``relay_*``, as on a payment).
``decode`` is the one place these strings become a ``RefundRecord``.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.queue import keys
from app.recovery import RecordKind, RecoveryStep


class RefundStep(RecoveryStep):
    REQUESTED = "requested", "pending"
    REFUNDING = "refunding", "pending"
    UNKNOWN = "unknown", "pending"
    REFUNDED = "refunded", "succeeded"
    FAILED = "failed", "failed", True
    RECORDED = "recorded", "succeeded", True


@dataclass(frozen=True)
class RefundRecord:
    id: str
    payment_id: str
    merchant_id: str
    #: Minor units of ``currency``, the payment's.
    amount: int
    currency: str
    provider: str
    #: The provider's reference of the payment's charge.
    payment_reference: str
    #: Unix seconds of the accept.
    created: int
    step: RefundStep
    provider_refund_reference: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    ledger_transaction_id: str | None = None
    ledger_seq: int | None = None
    #: The event the last move published, while the worker that moved it has not relayed it.
    relay_pending: str | None = None


def decode(raw: Mapping[bytes, bytes]) -> RefundRecord:
    """The record from its Redis hash, as HGETALL returns it."""
    fields = {key.decode(): value.decode() for key, value in raw.items()}
    ledger_seq = fields.get("ledger_seq")
    return RefundRecord(
        id=fields["id"],
        payment_id=fields["payment_id"],
        merchant_id=fields["merchant_id"],
        amount=int(fields["amount"]),
        currency=fields["currency"],
        provider=fields["provider"],
        payment_reference=fields["payment_reference"],
        created=int(fields["created"]),
        step=RefundStep(fields["step"]),
        provider_refund_reference=fields.get("provider_refund_reference"),
        failure_code=fields.get("failure_code"),
        failure_message=fields.get("failure_message"),
        ledger_transaction_id=fields.get("ledger_transaction_id"),
        ledger_seq=None if ledger_seq is None else int(ledger_seq),
        relay_pending=fields.get(keys.RELAY_PENDING_FIELD),
    )


def view(record: RefundRecord) -> dict[str, Any]:
    """The public JSON of a refund; key order matches the 202 the accept answers."""
    refund: dict[str, Any] = {
        "id": record.id,
        "object": "refund",
        "status": record.step.status,
        "amount": record.amount,
        "currency": record.currency,
        "payment": record.payment_id,
        "created": record.created,
    }
    if record.step is RefundStep.FAILED:
        refund["failure"] = {
            "code": record.failure_code or "refund_failed",
            "message": record.failure_message or "",
        }
    return refund


#: What a refund's final steps tell its merchant.
EVENTS: dict[RecoveryStep, str] = {
    RefundStep.RECORDED: "refund.succeeded",
    RefundStep.FAILED: "refund.failed",
}

REFUNDS = RecordKind(
    noun="refund",
    id_prefix=keys.REFUND_ID_PREFIX,
    key_for=keys.refund_key,
    decode=decode,
    view=view,
    payment_of=lambda record: record.payment_id,
    events=EVENTS,
)
