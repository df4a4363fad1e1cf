"""The ledger tables as SQLAlchemy models. They describe the schema that the migrations build
(a test compares the two); the writer and verifier use SQL and COPY, not the ORM. Triggers
(append-only guards, chain and posting checks) live in the migrations only."""

from datetime import datetime

from sqlalchemy import (
    CHAR,
    CheckConstraint,
    SmallInteger,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, WrittenAt, length_limits
from app.ledger.limits import (
    ACCOUNT_CODE_LENGTH_MAX,
    AMOUNT_MAX,
    IDENTIFIER_LENGTH_MAX,
    TRANSACTION_ID_LENGTH_MAX,
)

CURRENCY_CHECK = "currency ~ '^[a-z]{3}$'"


class LedgerAccount(Base):
    """Created on first use, inside the append that first posts to it."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        *length_limits(code=ACCOUNT_CODE_LENGTH_MAX),
        CheckConstraint(CURRENCY_CHECK, name="currency_format"),
    )

    code: Mapped[str] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(CHAR(3))
    created_at: Mapped[WrittenAt]


class LedgerTransaction(Base):
    __tablename__ = "ledger_transactions"
    __table_args__ = (
        CheckConstraint("seq > 0", name="seq_positive"),
        *length_limits(id=TRANSACTION_ID_LENGTH_MAX),
        CheckConstraint("kind IN ('payment_captured', 'refund')", name="kind_known"),
        *length_limits(
            business_key=IDENTIFIER_LENGTH_MAX,
            reference=IDENTIFIER_LENGTH_MAX,
            merchant_id=IDENTIFIER_LENGTH_MAX,
        ),
        CheckConstraint("encoding_version >= 1", name="encoding_version_positive"),
        CheckConstraint("octet_length(prev_hash) = 32", name="prev_hash_sha256"),
        CheckConstraint("octet_length(hash) = 32", name="hash_sha256"),
    )

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(unique=True)
    kind: Mapped[str]
    business_key: Mapped[str] = mapped_column(unique=True)
    reference: Mapped[str]
    merchant_id: Mapped[str]
    created_at: Mapped[datetime]
    encoding_version: Mapped[int] = mapped_column(SmallInteger)
    prev_hash: Mapped[bytes]
    hash: Mapped[bytes]


class LedgerPosting(Base):
    """No per-row foreign keys: migration 0001's statement trigger checks, once per COPY, that
    every posting names a recorded transaction and an account kept in its currency, and that
    each transaction balances. Rows are never deleted, so what was checked stays true."""

    __tablename__ = "ledger_postings"
    __table_args__ = (
        CheckConstraint("index >= 0", name="index_non_negative"),
        CheckConstraint("direction IN ('debit', 'credit')", name="direction_known"),
        CheckConstraint(f"amount > 0 AND amount <= {AMOUNT_MAX}", name="amount_range"),
        CheckConstraint(CURRENCY_CHECK, name="currency_format"),
    )

    transaction_seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    account_code: Mapped[str]
    direction: Mapped[str]
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(CHAR(3))


class LedgerHead(Base):
    """The single row naming the last sealed transaction; appenders lock it FOR UPDATE."""

    __tablename__ = "ledger_head"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("seq >= 0", name="seq_non_negative"),
        CheckConstraint("octet_length(hash) = 32", name="hash_sha256"),
    )

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int]
    hash: Mapped[bytes]
