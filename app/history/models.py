"""The history tables. Each row keeps the object's public JSON as it was last projected
(``body``, exactly as GET answers it), and what listing filters and sorts by."""

from sqlalchemy import CheckConstraint, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, WrittenAt, length_limits

#: Ids are paystream's own: a prefix and 28 characters.
OBJECT_ID_LENGTH_MAX = 64
STATUS_LENGTH_MAX = 32
BODY_LENGTH_MAX = 262_144


class PaymentHistory(Base):
    __tablename__ = "payments"
    __table_args__ = (
        *length_limits(id=OBJECT_ID_LENGTH_MAX, status=STATUS_LENGTH_MAX, body=BODY_LENGTH_MAX),
        CheckConstraint("amount_refunded >= 0", name="amount_refunded_not_negative"),
        Index("ix_payments_merchant_id_created_ms_id", "merchant_id", "created_ms", "id"),
        Index(
            "ix_payments_merchant_id_status_created_ms_id",
            "merchant_id",
            "status",
            "created_ms",
            "id",
        ),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    merchant_id: Mapped[str]
    #: Milliseconds of the accept, from the id: with the id, the order payments are listed in.
    created_ms: Mapped[int]
    status: Mapped[str]
    #: The payment's events so far: a projection never replaces a later one.
    event_seq: Mapped[int] = mapped_column(Integer)
    amount_refunded: Mapped[int]
    body: Mapped[str]
    updated_at: Mapped[WrittenAt]


class RefundHistory(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        *length_limits(id=OBJECT_ID_LENGTH_MAX, status=STATUS_LENGTH_MAX, body=BODY_LENGTH_MAX),
        Index("ix_refunds_payment_id", "payment_id"),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    payment_id: Mapped[str]
    merchant_id: Mapped[str]
    created_ms: Mapped[int]
    status: Mapped[str]
    body: Mapped[str]
    updated_at: Mapped[WrittenAt]
