"""Webhook delivery leases and endpoint list order.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

``webhook_deliveries.held_until``: while an attempt is in flight its worker holds the delivery
until then, so a resend or a second message for the same delivery cannot send it twice at
once; a worker killed mid-attempt holds it no longer than that. ``webhook_endpoints.created_ms``
orders the endpoint list the way every other list is ordered (by the millisecond in the id).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "webhook_deliveries", sa.Column("held_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("webhook_endpoints", sa.Column("created_ms", sa.BigInteger(), nullable=True))
    op.execute("UPDATE webhook_endpoints SET created_ms = created * 1000")
    op.alter_column("webhook_endpoints", "created_ms", nullable=False)
    op.create_index(
        "ix_webhook_endpoints_merchant_id_created_ms_id",
        "webhook_endpoints",
        ["merchant_id", "created_ms", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_endpoints_merchant_id_created_ms_id", "webhook_endpoints")
    op.drop_column("webhook_endpoints", "created_ms")
    op.drop_column("webhook_deliveries", "held_until")
