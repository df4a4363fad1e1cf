"""What callers hand the ledger (Entry, Posting) and what it answers (Recorded)."""

from dataclasses import dataclass
from typing import Final, Literal

from app.ledger.canonical import PostingFields

Direction = Literal["debit", "credit"]
DEBIT: Final = "debit"
CREDIT: Final = "credit"
DIRECTIONS = frozenset({DEBIT, CREDIT})

KIND_PAYMENT_CAPTURED: Final = "payment_captured"
KIND_REFUND: Final = "refund"
KINDS = frozenset({KIND_PAYMENT_CAPTURED, KIND_REFUND})


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    direction: Direction
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One balanced transaction to record; ``business_key`` makes recording it idempotent."""

    business_key: str
    kind: str
    reference: str
    merchant_id: str
    postings: tuple[Posting, ...]


@dataclass(frozen=True, slots=True)
class Recorded:
    """Where an entry sits in the chain; ``created`` is False when it was recorded before."""

    business_key: str
    transaction_id: str
    seq: int
    created: bool


def posting_fields(posting: Posting) -> PostingFields:
    """A posting in the shape the canonical encoding and the money rules take."""
    return (posting.account, posting.direction, posting.amount, posting.currency)
