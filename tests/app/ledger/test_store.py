"""with_postings(): merging the two seq-ordered streams, orphans included."""

from datetime import UTC, datetime

from app.ledger.store import PostingRow, TransactionRow, with_postings

CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def transaction(seq: int) -> TransactionRow:
    return (seq, f"ltx_{seq}", "refund", f"k{seq}", "r", "m", CREATED_AT, 1, b"", b"")


def posting(seq: int, index: int) -> PostingRow:
    return (seq, index, "a", "debit", 1, "usd")


def test_each_transaction_gets_its_postings() -> None:
    merged = list(
        with_postings(
            [transaction(1), transaction(2)],
            [posting(1, 0), posting(1, 1), posting(2, 0)],
        )
    )
    assert merged == [
        (1, transaction(1), [posting(1, 0), posting(1, 1)]),
        (2, transaction(2), [posting(2, 0)]),
    ]


def test_a_transaction_without_postings_gets_none() -> None:
    assert list(with_postings([transaction(1)], [])) == [(1, transaction(1), [])]


def test_postings_without_a_transaction_are_not_lost() -> None:
    merged = list(with_postings([transaction(2)], [posting(1, 0), posting(2, 0), posting(3, 0)]))
    assert merged == [
        (1, None, [posting(1, 0)]),
        (2, transaction(2), [posting(2, 0)]),
        (3, None, [posting(3, 0)]),
    ]
