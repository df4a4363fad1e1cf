"""The entries for payment outcomes and the account codes they post to."""

from app.ledger import (
    Posting,
    capture_entry,
    clearing_account,
    merchant_payable_account,
    refund_entry,
)
from app.ledger.validation import validate_entry

CLEARING = clearing_account("paystack", "ngn")


def test_account_codes() -> None:
    assert merchant_payable_account("mer_1", "ngn") == "merchant:mer_1:payable:ngn"
    assert CLEARING == "provider:paystack:clearing:ngn"


def test_a_capture_debits_clearing_and_credits_the_merchant() -> None:
    entry = capture_entry(
        payment_id="pay_1",
        merchant_id="mer_1",
        clearing_account=CLEARING,
        amount=500,
        currency="ngn",
    )
    assert (entry.business_key, entry.kind, entry.reference, entry.merchant_id) == (
        "pay_1:payment_captured",
        "payment_captured",
        "pay_1",
        "mer_1",
    )
    assert entry.postings == (
        Posting(CLEARING, "debit", 500, "ngn"),
        Posting("merchant:mer_1:payable:ngn", "credit", 500, "ngn"),
    )
    validate_entry(entry)


def test_a_refund_reverses_a_capture_under_its_own_key() -> None:
    entry = refund_entry(
        refund_id="re_1",
        payment_id="pay_1",
        merchant_id="mer_1",
        clearing_account=CLEARING,
        amount=200,
        currency="ngn",
    )
    assert (entry.business_key, entry.kind, entry.reference) == ("re_1:refund", "refund", "pay_1")
    assert entry.postings == (
        Posting("merchant:mer_1:payable:ngn", "debit", 200, "ngn"),
        Posting(CLEARING, "credit", 200, "ngn"),
    )
    validate_entry(entry)
