"""The verifier's SQL fast path builds exactly the canonical bytes, or NULL when unsure."""

from datetime import datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from app.ledger import Entry, Posting, append, verify
from app.ledger.canonical import chain_hash, is_plain_encoding
from app.ledger.prefilter import CANONICAL_STREAM_SQL
from tests.ledger.support import captures
from tests.ledger.test_canonical import LEDGER_DOC, documented_vectors

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


#: seq, prev_hash, hash, posting count, canonical bytes
StreamRow = tuple[int, bytes, bytes, int, bytes | None]


def stream(connection: Connection) -> list[StreamRow]:
    return connection.execute(CANONICAL_STREAM_SQL, EVERYTHING).fetchall()


def fast_accepts(row: StreamRow) -> bool:
    _, prev_hash, stored_hash, postings, canonical = row
    if canonical is None or not is_plain_encoding(canonical, postings):
        return False
    return chain_hash(prev_hash, canonical) == stored_hash


def test_the_sql_encoding_reproduces_the_documented_vectors(superuser: Connection) -> None:
    vectors = documented_vectors(LEDGER_DOC)
    for vector, _, hash_hex in vectors:
        insert_vector(superuser, vector, hash_hex)
    rows = stream(superuser)
    assert [row[4] for row in rows] == [canonical.encode() for _, canonical, _ in vectors]
    assert [row[3] for row in rows] == [len(vector["postings"]) for vector, _, _ in vectors]
    assert all(fast_accepts(row) for row in rows)


def test_appended_entries_pass_the_fast_path(engine: Engine, superuser: Connection) -> None:
    append(engine, captures("fast", 5))
    rows = stream(superuser)
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5]
    assert all(fast_accepts(row) for row in rows)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transactions SET reference = 'caf\u00e9' WHERE seq = 1",
        "UPDATE ledger_transactions SET merchant_id = 'a\"b' WHERE seq = 1",
        "UPDATE ledger_postings SET index = 5 WHERE transaction_seq = 1 AND index = 1",
        "UPDATE ledger_postings SET amount = amount + 1 WHERE transaction_seq = 1 AND index = 0",
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
    rows = stream(superuser)
    assert not fast_accepts(rows[0]) and fast_accepts(rows[1])


def test_postings_without_their_transaction_are_found(
    engine: Engine, superuser: Connection
) -> None:
    append(engine, captures("orphan", 2))
    superuser.execute("ALTER TABLE ledger_transactions DISABLE TRIGGER ALL")
    superuser.execute("DELETE FROM ledger_transactions WHERE seq = 1")
    assert [row[0] for row in stream(superuser)] == [2]
    report = verify(engine)
    assert (report.ok, report.first_bad_seq) == (False, 1)
    assert "postings remain" in (report.reason or "")


def test_postings_past_the_last_transaction_are_found_by_their_count(
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


def test_a_multi_currency_entry_verifies_through_the_exact_check(engine: Engine) -> None:
    postings = (
        Posting("provider:fx:clearing:usd", "debit", 100, "usd"),
        Posting("merchant:mer_fx:payable:usd", "credit", 100, "usd"),
        Posting("provider:fx:clearing:ngn", "debit", 9000, "ngn"),
        Posting("merchant:mer_fx:payable:ngn", "credit", 9000, "ngn"),
    )
    append(
        engine, [Entry("pay_fx:payment_captured", "payment_captured", "pay_fx", "mer_fx", postings)]
    )
    report = verify(engine)
    assert report.ok and report.entries_checked == 1
    assert report.balances["provider:fx:clearing:ngn"] == {"ngn": 9000}


@pytest.mark.parametrize(
    ("replacement", "postings", "plain"),
    [
        ("mer_example", 2, True),
        ("mer_example", 3, False),
        ('mer_"example', 2, False),
        ("mer_\\example", 2, False),
        ("mer_\u00e9xample", 2, False),
        ("mer_\texample", 2, False),
    ],
)
def test_plainness_is_judged_on_the_whole_text(
    replacement: str, postings: int, plain: bool
) -> None:
    _, canonical, _ = documented_vectors(LEDGER_DOC)[0]
    text = canonical.replace('"merchant_id":"mer_example"', f'"merchant_id":"{replacement}"')
    assert is_plain_encoding(text.encode(), postings) is plain
