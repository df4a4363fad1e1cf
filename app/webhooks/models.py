"""The webhook tables: endpoints merchants registered, one delivery per event and endpoint, and
every attempt of each delivery."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.history.models import BODY_LENGTH_MAX, OBJECT_ID_LENGTH_MAX

URL_LENGTH_MAX = 2048
ENABLED_EVENTS_MAX = 16
#: What an attempt keeps of the receiver's answer.
RESPONSE_HEAD_BYTES_MAX = 1024
ENDPOINT_STATUSES = ("enabled", "disabled")
DELIVERY_STATUSES = ("pending", "succeeded", "failed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({listed})"


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint(f"char_length(id) <= {OBJECT_ID_LENGTH_MAX}", name="id_length"),
        CheckConstraint(f"char_length(url) <= {URL_LENGTH_MAX}", name="url_length"),
        CheckConstraint(
            f"cardinality(enabled_events) BETWEEN 1 AND {ENABLED_EVENTS_MAX}",
            name="enabled_events_count",
        ),
        CheckConstraint(_one_of("status", ENDPOINT_STATUSES), name="status_known"),
        CheckConstraint(f"char_length(answer) <= {BODY_LENGTH_MAX}", name="answer_length"),
        UniqueConstraint("merchant_id", "idempotency_key_hash"),
        Index("ix_webhook_endpoints_merchant_id_created", "merchant_id", "created"),
        Index("ix_webhook_endpoints_merchant_id_created_ms_id", "merchant_id", "created_ms", "id"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(Text, nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    enabled_events: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    #: What signs its deliveries (``whsec_`` + base64); shown once, never logged.
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    #: Unix seconds.
    created: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: The millisecond in the id: the list's order, as every list's.
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    #: Why deliveries stopped (the receiver answered 410 Gone, ...), when they did.
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The creating request's Idempotency-Key (as SHA-256 hex), fingerprint and first answer.
    idempotency_key_hash: Mapped[str] = mapped_column(Text, nullable=False)
    fingerprint: Mapped[str] = mapped_column(Text, nullable=False)
    answer: Mapped[str] = mapped_column(Text, nullable=False)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index(
            "ix_webhook_deliveries_payment_id_endpoint_id_seq", "payment_id", "endpoint_id", "seq"
        ),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(Text, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(Text, nullable=False)
    #: The event's payment and its place among the payment's events: deliveries to one
    #: endpoint go in that order.
    payment_id: Mapped[str] = mapped_column(Text, nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    #: While an attempt is in flight, its worker holds the delivery until then: nothing else
    #: sends it meanwhile, and a worker killed mid-attempt holds it no longer.
    held_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (
        CheckConstraint(
            f"char_length(response_head) <= {RESPONSE_HEAD_BYTES_MAX}", name="response_head_length"
        ),
        Index("ix_webhook_attempts_event_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(Text, nullable=False)
    endpoint_id: Mapped[str] = mapped_column(Text, nullable=False)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: None when no HTTP answer came (refused, timed out, not allowed).
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    response_head: Mapped[str] = mapped_column(Text, nullable=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
