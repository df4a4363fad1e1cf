"""The events table: every event exactly once, as the merchant gets it (``body``, the bytes
webhook deliveries sign), in its payment's sequence."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, length_limits
from app.history.models import BODY_LENGTH_MAX, OBJECT_ID_LENGTH_MAX

TYPE_LENGTH_MAX = 64


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        *length_limits(id=OBJECT_ID_LENGTH_MAX, type=TYPE_LENGTH_MAX, body=BODY_LENGTH_MAX),
        CheckConstraint("seq > 0", name="seq_positive"),
        UniqueConstraint("payment_id", "seq"),
        Index("ix_events_merchant_id_created_ms_id", "merchant_id", "created_ms", "id"),
        Index(
            "ix_events_merchant_id_type_created_ms_id", "merchant_id", "type", "created_ms", "id"
        ),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(Text, nullable=False)
    #: Events of one payment (its own, its refunds') are numbered 1, 2, ... in the order their
    #: moves happened, and delivered in that order.
    payment_id: Mapped[str] = mapped_column(Text, nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    relayed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
