"""The one declarative base (so Alembic sees one metadata) and the merchant table."""

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, MetaData, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Constraint names are fixed by convention so migrations can name what they drop.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MERCHANT_ID_LENGTH_MAX = 64
MERCHANT_NAME_LENGTH_MAX = 200


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Merchant(Base):
    """A merchant; its API key is stored only as the hex SHA-256 of the key."""

    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint(f"char_length(id) <= {MERCHANT_ID_LENGTH_MAX}", name="id_length"),
        CheckConstraint(f"char_length(name) <= {MERCHANT_NAME_LENGTH_MAX}", name="name_length"),
        CheckConstraint("api_key_hash ~ '^[0-9a-f]{64}$'", name="api_key_hash_sha256_hex"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    api_key_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
