"""The merchants table: the record of truth for merchants and their API key hashes."""

from sqlalchemy import CheckConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, WrittenAt, length_limits

MERCHANT_ID_LENGTH_MAX = 64
MERCHANT_NAME_LENGTH_MAX = 200


class Merchant(Base):
    """A merchant; its API key is stored only as the hex SHA-256 of the key."""

    __tablename__ = "merchants"
    __table_args__ = (
        *length_limits(id=MERCHANT_ID_LENGTH_MAX, name=MERCHANT_NAME_LENGTH_MAX),
        CheckConstraint("api_key_hash ~ '^[0-9a-f]{64}$'", name="api_key_hash_sha256_hex"),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    api_key_hash: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[WrittenAt]
