"""The append-only, double-entry, hash-chained ledger (docs/ledger.md).

It knows nothing of providers, actors or HTTP: it records balanced transactions.
"""

from app.ledger.accounts import clearing_account, merchant_payable_account
from app.ledger.balances import Balances, balances
from app.ledger.entry import Entry, Posting, Recorded
from app.ledger.errors import (
    AccountCurrencyMismatch,
    BatchTooLarge,
    BusinessKeyConflict,
    CanonicalEncodingError,
    ChainBroken,
    InvalidEntry,
    LedgerError,
    LedgerNotInitialised,
    UnbalancedEntry,
)
from app.ledger.outcomes import capture_entry, refund_entry
from app.ledger.verify import VerifyReport, verify
from app.ledger.writer import append

__all__ = [
    "AccountCurrencyMismatch",
    "Balances",
    "BatchTooLarge",
    "BusinessKeyConflict",
    "CanonicalEncodingError",
    "ChainBroken",
    "Entry",
    "InvalidEntry",
    "LedgerError",
    "LedgerNotInitialised",
    "Posting",
    "Recorded",
    "UnbalancedEntry",
    "VerifyReport",
    "append",
    "balances",
    "capture_entry",
    "clearing_account",
    "merchant_payable_account",
    "refund_entry",
    "verify",
]
