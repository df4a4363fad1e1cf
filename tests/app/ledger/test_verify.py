"""verify(): re-derives every hash and balance and names the first bad seq.

Tampering needs what an attacker with superuser rights has: the triggers switched off.
"""

import importlib
import threading
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from app.ledger import append, refund_entry, verify
from app.ledger.canonical import GENESIS_HASH, chain_hash, encode_v1
from tests.app.ledger.support import STRIPE_CLEARING, capture, captures

Connection = psycopg.Connection[Any]
# The package re-exports the function verify under the module's name.
verify_module = importlib.import_module("app.ledger.verify")

LEDGER_TABLES = ["ledger_transactions", "ledger_postings", "ledger_head"]
RECORDED = 6


@pytest.fixture(autouse=True, params=["one stream", "two halves"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs both ways: one stream, and two halves over one exported snapshot."""
    if request.param == "two halves":
        monkeypatch.setattr(verify_module, "PARALLEL_ENTRIES_MIN", 2)


@pytest.fixture
def recorded(engine: Engine) -> None:
    append(engine, captures("first", 3))
    append(engine, captures("second", 3))


@pytest.fixture
def tamperer(superuser: Connection, recorded: None) -> Connection:
    for table in LEDGER_TABLES:
        superuser.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
    return superuser


def test_an_empty_ledger_verifies(engine: Engine) -> None:
    report = verify(engine)
    assert report.ok and report.entries_checked == 0 and report.first_bad_seq is None
    assert (report.head_seq, report.head_hash_hex) == (0, GENESIS_HASH.hex())
    assert report.balances == {}


def test_a_recorded_ledger_verifies_with_its_balances(engine: Engine) -> None:
    append(engine, [capture("pay_1", amount=1000), capture("pay_2", amount=500, merchant="mer_b")])
    refund = refund_entry(
        refund_id="re_1",
        payment_id="pay_1",
        merchant_id="mer_a",
        clearing_account=STRIPE_CLEARING,
        amount=300,
        currency="usd",
    )
    [recorded] = append(engine, [refund])
    report = verify(engine)
    assert report.ok and report.entries_checked == 3 and report.reason is None
    assert report.head_seq == recorded.seq == 3
    assert report.balances == {
        STRIPE_CLEARING: {"usd": 1200},
        "merchant:mer_a:payable:usd": {"usd": -700},
        "merchant:mer_b:payable:usd": {"usd": -500},
    }


def test_verify_sees_one_snapshot_while_appends_run(engine: Engine) -> None:
    appending = threading.Thread(
        target=lambda: [append(engine, captures(f"batch_{batch}", 50)) for batch in range(20)]
    )
    appending.start()
    reports = [verify(engine) for _ in range(5)]
    appending.join()
    assert all(report.ok for report in reports), [report.reason for report in reports]
    assert verify(engine).entries_checked == 20 * 50


def test_verify_resumes_from_a_trusted_seq_and_hash(engine: Engine, recorded: None) -> None:
    full = verify(engine)
    middle = verify(engine, from_seq=4)
    assert middle.ok and middle.entries_checked == 3
    anchored = verify(engine, from_seq=RECORDED + 1, from_hash=bytes.fromhex(full.head_hash_hex))
    assert anchored.ok and anchored.entries_checked == 0


def test_a_wrong_trusted_hash_is_the_first_break(engine: Engine, recorded: None) -> None:
    report = verify(engine, from_seq=4, from_hash=b"\x01" * 32)
    assert (report.ok, report.first_bad_seq) == (False, 4)
    assert "prev_hash" in (report.reason or "")


def test_a_start_past_the_head_is_a_caller_error(engine: Engine, recorded: None) -> None:
    with pytest.raises(ValueError):
        verify(engine, from_seq=RECORDED + 2)
    with pytest.raises(ValueError):
        verify(engine, from_seq=0)


def assert_first_break(
    engine: Engine, seq: int, reason_part: str, *, checked: int | None = None
) -> None:
    report = verify(engine)
    assert not report.ok
    assert report.first_bad_seq == seq, report.reason
    assert reason_part in (report.reason or "")
    assert report.entries_checked == (seq - 1 if checked is None else checked)


def test_an_edited_amount_is_found(engine: Engine, tamperer: Connection) -> None:
    tamperer.execute("UPDATE ledger_postings SET amount = amount + 1 WHERE transaction_seq = 4")
    assert_first_break(engine, 4, "hash")


def test_an_edited_amount_on_both_sides_is_found(engine: Engine, tamperer: Connection) -> None:
    tamperer.execute("UPDATE ledger_postings SET amount = 1 WHERE transaction_seq = 2")
    assert_first_break(engine, 2, "hash")


def test_an_edited_reference_is_found(engine: Engine, tamperer: Connection) -> None:
    tamperer.execute("UPDATE ledger_transactions SET reference = 'pay_other' WHERE seq = 5")
    assert_first_break(engine, 5, "hash")


def test_a_deleted_transaction_is_found(engine: Engine, tamperer: Connection) -> None:
    tamperer.execute("DELETE FROM ledger_postings WHERE transaction_seq = 3")
    tamperer.execute("DELETE FROM ledger_transactions WHERE seq = 3")
    assert_first_break(engine, 3, "missing")


def test_a_deleted_transaction_whose_postings_remain_is_found(
    engine: Engine, tamperer: Connection
) -> None:
    tamperer.execute("DELETE FROM ledger_transactions WHERE seq = 2")
    assert_first_break(engine, 2, "postings remain")


def test_a_deleted_last_transaction_is_found_by_the_head(
    engine: Engine, tamperer: Connection
) -> None:
    tamperer.execute(f"DELETE FROM ledger_postings WHERE transaction_seq = {RECORDED}")
    tamperer.execute(f"DELETE FROM ledger_transactions WHERE seq = {RECORDED}")
    assert_first_break(engine, RECORDED, "missing")


def test_a_deleted_posting_is_found(engine: Engine, tamperer: Connection) -> None:
    tamperer.execute("DELETE FROM ledger_postings WHERE transaction_seq = 5 AND index = 1")
    assert_first_break(engine, 5, "hash")


def test_a_forged_posting_is_found(engine: Engine, tamperer: Connection) -> None:
    tamperer.execute(
        "INSERT INTO ledger_postings VALUES (3, 2, 'provider:stripe:clearing', 'debit', 9, 'usd')"
    )
    assert_first_break(engine, 3, "hash")


def forge(tamperer: Connection, seq: int, prev_hash: bytes, amount: int) -> bytes:
    """A transaction a careful forger builds: correctly encoded, hashed and linked."""
    created_at = tamperer.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    postings = [
        (STRIPE_CLEARING, "debit", amount, "usd"),
        ("merchant:mer_a:payable", "credit", amount, "usd"),
    ]
    fields = {
        "seq": seq,
        "transaction_id": f"ltx_forged_{seq}",
        "kind": "payment_captured",
        "business_key": f"pay_forged_{seq}:payment_captured",
        "reference": f"pay_forged_{seq}",
        "merchant_id": "mer_a",
        "created_at": created_at,
    }
    digest = chain_hash(prev_hash, encode_v1(**fields, postings=postings))
    tamperer.execute(
        "INSERT INTO ledger_transactions VALUES (%(seq)s, %(transaction_id)s, %(kind)s,"
        " %(business_key)s, %(reference)s, %(merchant_id)s, %(created_at)s, 1, %(prev)s, %(hash)s)",
        fields | {"prev": prev_hash, "hash": digest},
    )
    for index, (account, direction, posted, currency) in enumerate(postings):
        tamperer.execute(
            "INSERT INTO ledger_postings VALUES (%s, %s, %s, %s, %s, %s)",
            (seq, index, account, direction, posted, currency),
        )
    return digest


def stored_hash(connection: Connection, seq: int) -> bytes:
    row = connection.execute("SELECT hash FROM ledger_transactions WHERE seq = %s", (seq,))
    return bytes(row.fetchone()[0])  # type: ignore[index]


def test_a_forged_row_past_the_head_is_found(engine: Engine, tamperer: Connection) -> None:
    forge(tamperer, RECORDED + 1, stored_hash(tamperer, RECORDED), amount=10_000)
    assert_first_break(engine, RECORDED + 1, "past the head")


def test_a_rewritten_history_is_found_only_against_an_anchor(
    engine: Engine, tamperer: Connection
) -> None:
    anchor = verify(engine)
    tamperer.execute("DELETE FROM ledger_postings WHERE transaction_seq >= 4")
    tamperer.execute("DELETE FROM ledger_transactions WHERE seq >= 4")
    digest = stored_hash(tamperer, 3)
    for seq in range(4, RECORDED + 1):
        digest = forge(tamperer, seq, digest, amount=10_000)
    tamperer.execute("UPDATE ledger_head SET hash = %s", (digest,))
    # A perfect rewrite, head included, passes from genesis: that is what anchors are for.
    assert verify(engine).ok
    report = verify(
        engine, from_seq=anchor.head_seq + 1, from_hash=bytes.fromhex(anchor.head_hash_hex)
    )
    assert (report.ok, report.first_bad_seq) == (False, RECORDED)


def test_a_row_replaced_by_a_forgery_is_found(engine: Engine, tamperer: Connection) -> None:
    tamperer.execute("DELETE FROM ledger_postings WHERE transaction_seq = 4")
    tamperer.execute("DELETE FROM ledger_transactions WHERE seq = 4")
    forge(tamperer, 4, stored_hash(tamperer, 3), amount=10_000)
    assert_first_break(engine, 5, "prev_hash")


def test_a_head_moved_back_is_found(engine: Engine, tamperer: Connection) -> None:
    tamperer.execute("UPDATE ledger_head SET seq = 5, hash = %s", (stored_hash(tamperer, 5),))
    assert_first_break(engine, 6, "past the head")


def test_a_head_with_a_wrong_hash_is_found(engine: Engine, tamperer: Connection) -> None:
    tamperer.execute("UPDATE ledger_head SET hash = sha256('wrong')")
    # Every transaction checks out; the head itself is the bad part.
    assert_first_break(engine, RECORDED, "head", checked=RECORDED)


def test_an_unknown_encoding_version_is_found(engine: Engine, tamperer: Connection) -> None:
    tamperer.execute("UPDATE ledger_transactions SET encoding_version = 2 WHERE seq = 2")
    assert_first_break(engine, 2, "encoding version")
