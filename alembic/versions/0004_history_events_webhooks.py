"""History, events and webhooks: what merchants read and are told, kept in PostgreSQL.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

``payments`` and ``refunds`` are projections the workers keep from the events they relay
(Redis holds a record only for its TTL); ``events`` holds every event once, in its payment's
sequence; ``webhook_endpoints``, ``webhook_deliveries`` and ``webhook_attempts`` hold where
events go, what is still to be delivered, and every attempt. None is part of the ledger: they
may be updated, and are not hash-chained. Limits are literals on purpose (see 0001).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "paystream_app"
TABLES = (
    "payments",
    "refunds",
    "events",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
)

#: The application role reads and writes these (events and attempts only grow); granted only
#: where migration 0003 could create the role.
GRANTS = f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        GRANT SELECT, INSERT, UPDATE ON payments, refunds, webhook_endpoints,
            webhook_deliveries TO {APP_ROLE};
        GRANT SELECT, INSERT ON events, webhook_attempts TO {APP_ROLE};
        GRANT USAGE ON SEQUENCE webhook_attempts_id_seq TO {APP_ROLE};
    END IF;
END
$$
"""
REVOKES = f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        REVOKE ALL ON {", ".join(TABLES)} FROM {APP_ROLE};
        REVOKE ALL ON SEQUENCE webhook_attempts_id_seq FROM {APP_ROLE};
    END IF;
END
$$
"""


def _now() -> sa.TextClause:
    return sa.text("now()")


def _create_payments() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("merchant_id", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint("char_length(id) <= 64", name="id_length"),
        sa.CheckConstraint("char_length(status) <= 32", name="status_length"),
        sa.CheckConstraint("char_length(body) <= 262144", name="body_length"),
        sa.CheckConstraint("amount_refunded >= 0", name="amount_refunded_not_negative"),
    )
    op.create_index(
        "ix_payments_merchant_id_created_ms_id", "payments", ["merchant_id", "created_ms", "id"]
    )
    op.create_index(
        "ix_payments_merchant_id_status_created_ms_id",
        "payments",
        ["merchant_id", "status", "created_ms", "id"],
    )


def _create_refunds() -> None:
    op.create_table(
        "refunds",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("payment_id", sa.Text(), nullable=False),
        sa.Column("merchant_id", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint("char_length(id) <= 64", name="id_length"),
        sa.CheckConstraint("char_length(status) <= 32", name="status_length"),
        sa.CheckConstraint("char_length(body) <= 262144", name="body_length"),
    )
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])


def _create_events() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("merchant_id", sa.Text(), nullable=False),
        sa.Column("payment_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("relayed_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint("char_length(id) <= 64", name="id_length"),
        sa.CheckConstraint("char_length(type) <= 64", name="type_length"),
        sa.CheckConstraint("char_length(body) <= 262144", name="body_length"),
        sa.CheckConstraint("seq > 0", name="seq_positive"),
        sa.UniqueConstraint("payment_id", "seq"),
    )
    op.create_index(
        "ix_events_merchant_id_created_ms_id", "events", ["merchant_id", "created_ms", "id"]
    )
    op.create_index(
        "ix_events_merchant_id_type_created_ms_id",
        "events",
        ["merchant_id", "type", "created_ms", "id"],
    )


def _create_webhook_endpoints() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("merchant_id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("enabled_events", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("idempotency_key_hash", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.CheckConstraint("char_length(id) <= 64", name="id_length"),
        sa.CheckConstraint("char_length(url) <= 2048", name="url_length"),
        sa.CheckConstraint(
            "cardinality(enabled_events) BETWEEN 1 AND 16", name="enabled_events_count"
        ),
        sa.CheckConstraint("status IN ('enabled', 'disabled')", name="status_known"),
        sa.CheckConstraint("char_length(answer) <= 262144", name="answer_length"),
        sa.UniqueConstraint("merchant_id", "idempotency_key_hash"),
    )
    op.create_index(
        "ix_webhook_endpoints_merchant_id_created", "webhook_endpoints", ["merchant_id", "created"]
    )


def _create_webhook_deliveries() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("event_id", sa.Text(), primary_key=True),
        sa.Column("endpoint_id", sa.Text(), primary_key=True),
        sa.Column("merchant_id", sa.Text(), nullable=False),
        sa.Column("payment_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )
    op.create_index(
        "ix_webhook_deliveries_payment_id_endpoint_id_seq",
        "webhook_deliveries",
        ["payment_id", "endpoint_id", "seq"],
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )


def _create_webhook_attempts() -> None:
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("endpoint_id", sa.Text(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("response_head", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("char_length(response_head) <= 1024", name="response_head_length"),
    )
    op.create_index("ix_webhook_attempts_event_id", "webhook_attempts", ["event_id"])


def upgrade() -> None:
    _create_payments()
    _create_refunds()
    _create_events()
    _create_webhook_endpoints()
    _create_webhook_deliveries()
    _create_webhook_attempts()
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute(REVOKES)
    for table in reversed(TABLES):
        op.drop_table(table)
