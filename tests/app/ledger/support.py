"""Small builders and readers shared by the ledger tests."""

from typing import Any

import psycopg

from app.ledger import Entry, capture_entry, clearing_account

STRIPE_CLEARING = clearing_account("stripe", "usd")


def capture(
    payment_id: str, *, amount: int = 1000, currency: str = "usd", merchant: str = "mer_a"
) -> Entry:
    return capture_entry(
        payment_id=payment_id,
        merchant_id=merchant,
        clearing_account=clearing_account("stripe", currency),
        amount=amount,
        currency=currency,
    )


def captures(prefix: str, count: int) -> list[Entry]:
    return [capture(f"pay_{prefix}_{index}", amount=100 + index) for index in range(count)]


def scalar(connection: psycopg.Connection[Any], query: str) -> Any:
    row = connection.execute(query).fetchone()
    assert row is not None
    return row[0]


def transaction_count(connection: psycopg.Connection[Any]) -> int:
    return int(scalar(connection, "SELECT count(*) FROM ledger_transactions"))


def seqs(connection: psycopg.Connection[Any]) -> list[int]:
    return [
        row[0] for row in connection.execute("SELECT seq FROM ledger_transactions ORDER BY seq")
    ]


def head_seq(connection: psycopg.Connection[Any]) -> int:
    return int(scalar(connection, "SELECT seq FROM ledger_head"))
