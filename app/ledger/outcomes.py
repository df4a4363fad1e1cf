"""The entries for payment outcomes: a capture and its reversal, a refund."""

from app.ledger.accounts import merchant_payable_account
from app.ledger.entry import CREDIT, DEBIT, KIND_PAYMENT_CAPTURED, KIND_REFUND, Entry, Posting


def capture_entry(
    *, payment_id: str, merchant_id: str, clearing_account: str, amount: int, currency: str
) -> Entry:
    """The provider now holds ``amount`` for us, and we owe it to the merchant."""
    payable = merchant_payable_account(merchant_id, currency)
    return Entry(
        business_key=f"{payment_id}:{KIND_PAYMENT_CAPTURED}",
        kind=KIND_PAYMENT_CAPTURED,
        reference=payment_id,
        merchant_id=merchant_id,
        postings=(
            Posting(account=clearing_account, direction=DEBIT, amount=amount, currency=currency),
            Posting(account=payable, direction=CREDIT, amount=amount, currency=currency),
        ),
    )


def refund_entry(
    *,
    refund_id: str,
    payment_id: str,
    merchant_id: str,
    clearing_account: str,
    amount: int,
    currency: str,
) -> Entry:
    """Reverses (part of) a capture with new postings; nothing recorded is ever edited."""
    payable = merchant_payable_account(merchant_id, currency)
    return Entry(
        business_key=f"{refund_id}:{KIND_REFUND}",
        kind=KIND_REFUND,
        reference=payment_id,
        merchant_id=merchant_id,
        postings=(
            Posting(account=payable, direction=DEBIT, amount=amount, currency=currency),
            Posting(account=clearing_account, direction=CREDIT, amount=amount, currency=currency),
        ),
    )
