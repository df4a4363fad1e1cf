"""The events table: every event exactly once, as the merchant gets it (``body``, the bytes
webhook deliveries sign), in its payment's sequence."""

from sqlalchemy import (
    CheckConstraint,
    Index,
    Integer,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, WrittenAt, length_limits
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

    id: Mapped[str] = mapped_column(primary_key=True)
    merchant_id: Mapped[str]
    #: Events of one payment (its own, its refunds') are numbered 1, 2, ... in the order their
    #: moves happened, and delivered in that order.
    payment_id: Mapped[str]
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str]
    created_ms: Mapped[int]
    body: Mapped[str]
    relayed_at: Mapped[WrittenAt]
