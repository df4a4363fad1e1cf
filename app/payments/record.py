"""The payment record kept in Redis: its typed form, its recovery point, and its public view.

Redis holds the record (not PostgreSQL) so a payment is readable, and its charge can progress,
while the database is down. The hash has one ``data`` field with what never changes (the
validated request, as JSON: one field packs and stores far cheaper than a dozen), a ``step``
field that is the charge's persisted recovery point, and the fields workers add as it moves:
``provider_reference``, ``failure_code``/``failure_message``, ``ledger_transaction_id``/
``ledger_seq``, and ``amount_refund_pending`` (refunds accepted, not yet settled) and
``amount_refunded`` (refunds recorded), integers kept with HINCRBY by the refund accept and the
refund actor, ``event_seq``, how many events the payment and its refunds have published, and
``relay_pending``/``relay_message``, the event of the last move while its mover has not yet
relayed it (``actors.relay``). ``decode`` is the one place these strings become a
``PaymentRecord``.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from app.payments.request import PaymentRequest
from app.queue import keys
from app.recovery import (
    RELAY_PENDING_FIELD,
    RecordKind,
    RecoveryStep,
    integer_field,
    text_field,
)

_DATA_DECODER = msgspec.json.Decoder(dict[str, Any])


class Step(RecoveryStep):
    ACCEPTED = "accepted", "pending"
    PREPARED = "prepared", "processing"
    CHARGING = "charging", "processing"
    UNKNOWN = "unknown", "processing"
    CHARGED = "charged", "succeeded"
    DECLINED = "declined", "failed", True
    #: The customer must act (3-D Secure) until ``action_deadline``; the outcome then comes
    #: by webhook or lookup, or the payment fails with ``authentication_timeout``.
    REQUIRES_ACTION = "requires_action", "requires_action"
    RECORDED = "recorded", "succeeded", True


#: Every status a payment shows, in the order a payment goes through them: its steps', and what
#: refunds make of a succeeded one.
PAYMENT_STATUSES = tuple(
    dict.fromkeys([*(step.status for step in Step), "refunded", "partially_refunded"])
)


@dataclass(frozen=True)
class PaymentRecord:
    id: str
    merchant_id: str
    #: Unix seconds of the accept.
    created: int
    #: What the merchant asked for, validated: it never changes.
    request: PaymentRequest
    step: Step
    provider_reference: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    ledger_transaction_id: str | None = None
    ledger_seq: int | None = None
    #: Minor units refunded and recorded; and reserved by refunds not yet settled.
    amount_refunded: int = 0
    amount_refund_pending: int = 0
    #: While the customer must act: how (the provider's redirect URL or client secret), and
    #: until when (unix seconds).
    next_action_type: str | None = None
    next_action_url: str | None = None
    next_action_client_secret: str | None = None
    action_deadline: int | None = None
    #: Events published so far by the payment and its refunds (the last one's sequence number).
    event_seq: int = 0
    #: The event the last move published, while the worker that moved it has not relayed it.
    relay_pending: str | None = None

    @property
    def status(self) -> str:
        """A succeeded payment reads as (partially) refunded once refunds have been recorded."""
        status = self.step.status
        if status != "succeeded" or self.amount_refunded == 0:
            return status
        return "refunded" if self.amount_refunded >= self.request.amount else "partially_refunded"


def encode_new(record: PaymentRecord) -> dict[str, bytes | str]:
    """The Redis hash fields of a new record: ``data`` (what never changes) and ``step``."""
    data = {"id": record.id, "merchant_id": record.merchant_id, "created": record.created}
    data |= record.request.canonical()
    # msgspec, not json: encoded on every accept, several times cheaper (same JSON).
    return {"data": msgspec.json.encode(data), "step": record.step.value}


def decode(raw: Mapping[bytes, bytes]) -> PaymentRecord:
    """The record from its Redis hash, as HGETALL returns it."""
    # Read on every phase of every payment: msgspec straight from the bytes, and only the
    # fields a record holds decoded.
    data = _DATA_DECODER.decode(raw[b"data"])
    return PaymentRecord(
        id=data.pop("id"),
        merchant_id=data.pop("merchant_id"),
        created=data.pop("created"),
        request=PaymentRequest(**data),
        step=Step(raw[b"step"].decode()),
        provider_reference=text_field(raw, b"provider_reference"),
        failure_code=text_field(raw, b"failure_code"),
        failure_message=text_field(raw, b"failure_message"),
        ledger_transaction_id=text_field(raw, b"ledger_transaction_id"),
        ledger_seq=integer_field(raw, b"ledger_seq"),
        amount_refunded=integer_field(raw, b"amount_refunded") or 0,
        amount_refund_pending=integer_field(raw, b"amount_refund_pending") or 0,
        next_action_type=text_field(raw, b"next_action_type"),
        next_action_url=text_field(raw, b"next_action_url"),
        next_action_client_secret=text_field(raw, b"next_action_client_secret"),
        action_deadline=integer_field(raw, b"action_deadline"),
        event_seq=integer_field(raw, b"event_seq") or 0,
        relay_pending=text_field(raw, RELAY_PENDING_FIELD),
    )


def view(record: PaymentRecord) -> dict[str, Any]:
    """The public JSON of a payment (never the payment method, which stays server-side)."""
    request = record.request
    payment: dict[str, Any] = {
        "id": record.id,
        "object": "payment",
        "status": record.status,
        "amount": request.amount,
        "currency": request.currency,
        "provider": request.provider,
        "created": record.created,
        "customer": request.customer,
        "description": request.description,
        "metadata": request.metadata,
        "amount_refunded": record.amount_refunded,
        "provider_reference": record.provider_reference,
    }
    if record.step is Step.DECLINED:
        payment["failure"] = {
            "code": record.failure_code or "declined",
            "message": record.failure_message or "",
        }
    if record.step is Step.REQUIRES_ACTION and record.next_action_type is not None:
        payment["next_action"] = next_action_view(record)
    if record.ledger_transaction_id is not None:
        payment["ledger"] = {
            "transaction_id": record.ledger_transaction_id,
            "seq": record.ledger_seq,
        }
    return payment


def next_action_view(record: PaymentRecord) -> dict[str, Any]:
    """What the merchant hands its customer: where to go, or what the provider's SDK needs."""
    action: dict[str, Any] = {"type": record.next_action_type}
    if record.next_action_url is not None:
        action["redirect_url"] = record.next_action_url
    if record.next_action_client_secret is not None:
        action["client_secret"] = record.next_action_client_secret
    action["expires_at"] = record.action_deadline
    return action


#: What a payment's final steps tell its merchant.
EVENTS: dict[RecoveryStep, str] = {
    Step.RECORDED: "payment.succeeded",
    Step.DECLINED: "payment.failed",
    Step.REQUIRES_ACTION: "payment.requires_action",
}

PAYMENTS = RecordKind(
    noun="payment",
    id_prefix=keys.PAYMENT_ID_PREFIX,
    key_for=keys.payment_key,
    decode=decode,
    view=view,
    payment_of=lambda record: record.id,
    events=EVENTS,
)
