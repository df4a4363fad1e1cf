"""The verifier's SQL fast path: exactly the canonical bytes, and a row passes only when sure."""

from datetime import datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from app.ledger import Entry, Posting, append, verify
from app.ledger.canonical import GENESIS_HASH
from app.ledger.prefilter import CANONICAL_ROWS_SQL, FAILING_ROWS_SQL
from tests.app.ledger.support import captures
from tests.app.ledger.test_canonical import LEDGER_DOC, documented_vectors

Connection = psycopg.Connection[Any]

EVERYTHING = {"seq_min": 1, "seq_max": 2**63 - 1}


def insert_vector(connection: Connection, vector: dict[str, Any], hash_hex: str) -> None:
    for account, _, _, currency in vector["postings"]:
        connection.execute(
            "INSERT INTO ledger_accounts (code, currency) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (account, currency),
        )
    connection.execute(
        "INSERT INTO ledger_transactions VALUES (%s, %s, %s, %s, %s, %s, %s, 1, %s, %s)",
        (
            vector["seq"],
            vector["id"],
            vector["kind"],
            vector["business_key"],
            vector["reference"],
            vector["merchant_id"],
            datetime.fromisoformat(vector["created_at"]),
            bytes.fromhex(vector["prev_hash"]),
            bytes.fromhex(hash_hex),
        ),
    )
    # One statement: the postings trigger checks the balance once per statement.
    rows = [(vector["seq"], index, *posting) for index, posting in enumerate(vector["postings"])]
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    connection.execute(
        f"INSERT INTO ledger_postings VALUES {values}", [value for row in rows for value in row]
    )
    connection.execute(
        "UPDATE ledger_head SET seq = %s, hash = %s", (vector["seq"], bytes.fromhex(hash_hex))
    )


def canonical_rows(connection: Connection) -> list[tuple[int, bytes | None]]:
    rows = connection.execute(
        f"SELECT seq, canonical FROM ({CANONICAL_ROWS_SQL}) AS rows WHERE seq >= 1 ORDER BY seq",
        EVERYTHING,
    ).fetchall()
    return [(seq, None if canonical is None else bytes(canonical)) for seq, canonical in rows]


def failing(
    connection: Connection, *, from_seq: int = 1, from_hash: bytes = GENESIS_HASH
) -> list[int]:
    """The seqs the fast path does not accept, checking from ``from_seq`` to the end."""
    head = connection.execute("SELECT seq FROM ledger_head").fetchone()
    assert head is not None
    parameters = {
        "seq_min": from_seq,
        "seq_max": EVERYTHING["seq_max"],
        "from_seq": from_seq,
        "from_hash": from_hash,
        "head_seq": head[0],
    }
    return [row[0] for row in connection.execute(FAILING_ROWS_SQL, parameters)]


def test_the_sql_encoding_reproduces_the_documented_vectors(superuser: Connection) -> None:
    vectors = documented_vectors(LEDGER_DOC)
    for vector, _, hash_hex in vectors:
        insert_vector(superuser, vector, hash_hex)
    rows = canonical_rows(superuser)
    assert [canonical for _, canonical in rows] == [
        canonical.encode() for _, canonical, _ in vectors
    ]
    assert failing(superuser) == []


def test_appended_entries_pass_the_fast_path(engine: Engine, superuser: Connection) -> None:
    append(engine, captures("fast", 5))
    assert [seq for seq, _ in canonical_rows(superuser)] == [1, 2, 3, 4, 5]
    assert failing(superuser) == []


def test_each_row_is_checked_against_the_stored_hash_before_it(
    engine: Engine, superuser: Connection
) -> None:
    append(engine, captures("linked", 4))
    stored = superuser.execute("SELECT hash FROM ledger_transactions WHERE seq = 2").fetchone()
    assert stored is not None
    assert failing(superuser, from_seq=3, from_hash=bytes(stored[0])) == []
    assert failing(superuser, from_seq=3, from_hash=b"\x01" * 32) == [3]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transactions SET reference = 'caf\u00e9' WHERE seq = 1",
        "UPDATE ledger_transactions SET merchant_id = 'a\"b' WHERE seq = 1",
        "UPDATE ledger_transactions SET id = 'ltx_a\\b' WHERE seq = 1",
        "UPDATE ledger_transactions SET business_key = E'pay\\tx' WHERE seq = 1",
        "UPDATE ledger_postings SET account_code = 'acc\"x' WHERE transaction_seq = 1",
        "UPDATE ledger_postings SET index = 5 WHERE transaction_seq = 1 AND index = 1",
        # A duplicate index needs the primary key gone first.
        "ALTER TABLE ledger_postings DROP CONSTRAINT pk_ledger_postings;"
        " UPDATE ledger_postings SET index = 0 WHERE transaction_seq = 1 AND index = 1",
        "UPDATE ledger_postings SET amount = amount + 1 WHERE transaction_seq = 1 AND index = 0",
        "UPDATE ledger_postings SET currency = 'eur' WHERE transaction_seq = 1 AND index = 0",
        "UPDATE ledger_transactions SET encoding_version = 2 WHERE seq = 1",
    ],
)
def test_a_row_not_plainly_valid_is_left_to_the_exact_check(
    engine: Engine, superuser: Connection, statement: str
) -> None:
    append(engine, captures("unsure", 2))
    superuser.execute("ALTER TABLE ledger_transactions DISABLE TRIGGER ALL")
    superuser.execute("ALTER TABLE ledger_postings DISABLE TRIGGER ALL")
    superuser.execute(statement)
    # Only the changed row: the next one links to its stored hash, which is unchanged.
    assert failing(superuser) == [1]


def test_a_gap_fails_the_row_after_it(engine: Engine, superuser: Connection) -> None:
    append(engine, captures("gap", 3))
    superuser.execute("ALTER TABLE ledger_transactions DISABLE TRIGGER ALL")
    superuser.execute("ALTER TABLE ledger_postings DISABLE TRIGGER ALL")
    superuser.execute("DELETE FROM ledger_postings WHERE transaction_seq = 2")
    superuser.execute("DELETE FROM ledger_transactions WHERE seq = 2")
    assert failing(superuser) == [3]


def test_postings_without_their_transaction_are_found(
    engine: Engine, superuser: Connection
) -> None:
    append(engine, captures("orphan", 2))
    superuser.execute("ALTER TABLE ledger_transactions DISABLE TRIGGER ALL")
    superuser.execute("DELETE FROM ledger_transactions WHERE seq = 1")
    assert [seq for seq, _ in canonical_rows(superuser)] == [2]
    report = verify(engine)
    assert (report.ok, report.first_bad_seq) == (False, 1)
    assert "postings remain" in (report.reason or "")


def test_postings_past_the_last_transaction_are_found(
    engine: Engine, superuser: Connection
) -> None:
    append(engine, captures("tail", 2))
    superuser.execute("ALTER TABLE ledger_postings DISABLE TRIGGER ALL")
    superuser.execute(
        "INSERT INTO ledger_postings"
        " VALUES (3, 0, 'provider:stripe:clearing:usd', 'debit', 5, 'usd')"
    )
    report = verify(engine)
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert "past the head" in (report.reason or "")


def test_a_multi_currency_entry_verifies_through_the_exact_check(
    engine: Engine, superuser: Connection
) -> None:
    postings = (
        Posting("provider:fx:clearing:usd", "debit", 100, "usd"),
        Posting("merchant:mer_fx:payable:usd", "credit", 100, "usd"),
        Posting("provider:fx:clearing:ngn", "debit", 9000, "ngn"),
        Posting("merchant:mer_fx:payable:ngn", "credit", 9000, "ngn"),
    )
    append(
        engine, [Entry("pay_fx:payment_captured", "payment_captured", "pay_fx", "mer_fx", postings)]
    )
    append(engine, captures("after_fx", 2))
    assert failing(superuser) == [1]
    report = verify(engine)
    assert report.ok and report.entries_checked == 3
    assert report.balances["provider:fx:clearing:ngn"] == {"ngn": 9000}
