"""The entries for payment outcomes: a capture and its reversal, a refund."""

from app.ledger.accounts import merchant_payable_account
from app.ledger.entry import CREDIT, DEBIT, KIND_PAYMENT_CAPTURED, KIND_REFUND, Entry, Posting


def capture_entry(
    *, payment_id: str, merchant_id: str, clearing_account: str, amount: int, currency: str
) -> Entry:
    """The provider now holds ``amount`` for us, and we owe it to the merchant."""
    payable = merchant_payable_account(merchant_id, currency)
    postings = _transfer(
        debited=clearing_account, credited=payable, amount=amount, currency=currency
    )
    return _outcome_entry(
        KIND_PAYMENT_CAPTURED,
        postings,
        keyed_by=payment_id,
        payment_id=payment_id,
        merchant_id=merchant_id,
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
    postings = _transfer(
        debited=payable, credited=clearing_account, amount=amount, currency=currency
    )
    return _outcome_entry(
        KIND_REFUND, postings, keyed_by=refund_id, payment_id=payment_id, merchant_id=merchant_id
    )


def _outcome_entry(
    kind: str, postings: tuple[Posting, ...], *, keyed_by: str, payment_id: str, merchant_id: str
) -> Entry:
    """Keyed by the outcome's own id (the payment's, the refund's) and its kind, so a repeated
    outcome records nothing new; referenced by the payment it belongs to."""
    return Entry(
        business_key=f"{keyed_by}:{kind}",
        kind=kind,
        reference=payment_id,
        merchant_id=merchant_id,
        postings=postings,
    )


def _transfer(*, debited: str, credited: str, amount: int, currency: str) -> tuple[Posting, ...]:
    """One amount moved from one account to another: balanced by construction."""
    return (
        Posting(account=debited, direction=DEBIT, amount=amount, currency=currency),
        Posting(account=credited, direction=CREDIT, amount=amount, currency=currency),
    )
