"""The merchants table: the record of truth for merchants and their API key hashes."""

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, length_limits

MERCHANT_ID_LENGTH_MAX = 64
MERCHANT_NAME_LENGTH_MAX = 200


class Merchant(Base):
    """A merchant; its API key is stored only as the hex SHA-256 of the key."""

    __tablename__ = "merchants"
    __table_args__ = (
        *length_limits(id=MERCHANT_ID_LENGTH_MAX, name=MERCHANT_NAME_LENGTH_MAX),
        CheckConstraint("api_key_hash ~ '^[0-9a-f]{64}$'", name="api_key_hash_sha256_hex"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    api_key_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
