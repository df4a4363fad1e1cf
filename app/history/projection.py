"""Writing the history: the latest known state of a payment or refund, as GET shows it.

Workers project an object each time they relay one of its events. A payment's projection
carries how many events it had published when it was taken (``event_seq``), and a projection
never replaces one taken later, so relays finishing out of order cannot roll history back.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from app.db import insert_rows, rows_parameter
from app.history.models import PaymentHistory, RefundHistory
from app.payments.record import PaymentRecord
from app.payments.record import view as payment_view
from app.queue import keys


@dataclass(frozen=True)
class PaymentProjection:
    id: str
    merchant_id: str
    created_ms: int
    status: str
    event_seq: int
    amount_refunded: int
    #: The payment's JSON, exactly as GET answers it.
    body: str


@dataclass(frozen=True)
class RefundProjection:
    id: str
    payment_id: str
    merchant_id: str
    created_ms: int
    status: str
    body: str


# Equal counts still update: a later read of the record may hold more detail.
_UPSERT_PAYMENTS = insert_rows(
    PaymentHistory,
    PaymentProjection,
    """ON CONFLICT (id) DO UPDATE
       SET status = excluded.status, event_seq = excluded.event_seq,
           amount_refunded = excluded.amount_refunded, body = excluded.body, updated_at = now()
     WHERE payments.event_seq <= excluded.event_seq""",
)
_INSERT_REFUNDS = insert_rows(RefundHistory, RefundProjection, "ON CONFLICT DO NOTHING")


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def project_payment(record: PaymentRecord) -> PaymentProjection:
    """A payment as its Redis record shows it now."""
    return PaymentProjection(
        id=record.id,
        merchant_id=record.merchant_id,
        created_ms=keys.created_ms_of(record.id, keys.PAYMENT_ID_PREFIX),
        status=record.status,
        event_seq=record.event_seq,
        amount_refunded=record.amount_refunded,
        body=_json(payment_view(record)),
    )


def payment_from_event(merchant_id: str, seq: int, payment: dict[str, Any]) -> PaymentProjection:
    """A payment as an event of its own carried it (when its record has left Redis)."""
    return PaymentProjection(
        id=payment["id"],
        merchant_id=merchant_id,
        created_ms=keys.created_ms_of(payment["id"], keys.PAYMENT_ID_PREFIX),
        status=payment["status"],
        event_seq=seq,
        amount_refunded=int(payment.get("amount_refunded", 0)),
        body=_json(payment),
    )


def refund_from_event(merchant_id: str, refund: dict[str, Any]) -> RefundProjection:
    """A refund as its final event carried it: a refund publishes only when it settles."""
    return RefundProjection(
        id=refund["id"],
        payment_id=refund["payment"],
        merchant_id=merchant_id,
        created_ms=keys.created_ms_of(refund["id"], keys.REFUND_ID_PREFIX),
        status=refund["status"],
        body=_json(refund),
    )


def latest(projections: Iterable[PaymentProjection]) -> list[PaymentProjection]:
    """One projection per payment, the latest: a statement may update a row only once."""
    by_id: dict[str, PaymentProjection] = {}
    for projection in projections:
        held = by_id.get(projection.id)
        if held is None or held.event_seq <= projection.event_seq:
            by_id[projection.id] = projection
    return list(by_id.values())


def write_payments(connection: Connection, projections: Iterable[PaymentProjection]) -> None:
    # One projection per payment: a statement may update a row only once.
    rows = latest(projections)
    if rows:
        connection.execute(_UPSERT_PAYMENTS, rows_parameter(rows))


def write_refunds(connection: Connection, projections: Iterable[RefundProjection]) -> None:
    # A refund's one event is its final state: the first projection of it is the last.
    rows = list({projection.id: projection for projection in projections}.values())
    if rows:
        connection.execute(_INSERT_REFUNDS, rows_parameter(rows))
