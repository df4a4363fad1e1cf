"""The database itself refuses to change the ledger, whatever role the session plays."""

from typing import Any

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import Engine

from app.ledger import append
from tests.app.ledger.support import captures, head_seq, scalar

Connection = psycopg.Connection[Any]

APPEND_ONLY_TABLES = ["ledger_accounts", "ledger_transactions", "ledger_postings"]
CHANGES = {
    "ledger_accounts": "UPDATE ledger_accounts SET currency = 'eur'",
    "ledger_transactions": "UPDATE ledger_transactions SET reference = 'forged'",
    "ledger_postings": "UPDATE ledger_postings SET amount = amount + 1",
}
ROLES = ["origin", "replica"]


@pytest.fixture
def recorded(engine: Engine) -> None:
    append(engine, captures("guarded", 3))


@pytest.fixture(params=ROLES)
def session(request: pytest.FixtureRequest, superuser: Connection, recorded: None) -> Connection:
    """A superuser session, also as a replica, which switches off ordinary triggers."""
    superuser.execute(f"SET session_replication_role = {request.param}")
    return superuser


def refused(session: Connection, statement: str) -> str:
    with pytest.raises(errors.InsufficientPrivilege) as raised:
        session.execute(statement)
    return str(raised.value)


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_update_is_refused(session: Connection, table: str) -> None:
    assert "append-only: UPDATE" in refused(session, CHANGES[table])


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_delete_is_refused(session: Connection, table: str) -> None:
    assert "append-only: DELETE" in refused(session, f"DELETE FROM {table}")


@pytest.mark.parametrize("table", [*APPEND_ONLY_TABLES, "ledger_head"])
def test_truncate_is_refused(session: Connection, table: str) -> None:
    assert "append-only: TRUNCATE" in refused(session, f"TRUNCATE {table} CASCADE")


def test_nothing_changed_after_the_attempts(session: Connection) -> None:
    for table in CHANGES:
        refused(session, CHANGES[table])
        refused(session, f"DELETE FROM {table}")
    assert scalar(session, "SELECT count(*) FROM ledger_transactions") == 3
    assert scalar(session, "SELECT sum(amount) FROM ledger_postings") == 2 * (100 + 101 + 102)


def test_the_head_cannot_be_deleted(session: Connection) -> None:
    assert "append-only: DELETE" in refused(session, "DELETE FROM ledger_head")


def test_the_head_cannot_move_backwards(session: Connection) -> None:
    hash_of_2 = "(SELECT hash FROM ledger_transactions WHERE seq = 2)"
    message = refused(session, f"UPDATE ledger_head SET seq = 2, hash = {hash_of_2}")
    assert "only moves forward" in message
    assert head_seq(session) == 3


def test_the_head_must_name_a_recorded_hash(session: Connection) -> None:
    with pytest.raises(errors.IntegrityConstraintViolation, match="recorded transaction"):
        session.execute("UPDATE ledger_head SET seq = 4, hash = hash")


def forged_row(seq: int, prev_hash: str) -> str:
    return (
        "INSERT INTO ledger_transactions (seq, id, kind, business_key, reference, merchant_id,"
        " created_at, encoding_version, prev_hash, hash)"
        f" VALUES ({seq}, 'ltx_forged', 'refund', 'forged:refund', 'pay_x', 'mer_a', now(), 1,"
        f" {prev_hash}, sha256('forged'))"
    )


HEAD_HASH = "(SELECT hash FROM ledger_head)"


def test_an_inserted_transaction_must_continue_from_the_head(session: Connection) -> None:
    with pytest.raises(errors.IntegrityConstraintViolation, match="continue the chain"):
        session.execute(forged_row(5, HEAD_HASH))


def test_an_inserted_transaction_must_link_to_the_head(session: Connection) -> None:
    with pytest.raises(errors.IntegrityConstraintViolation, match="must link"):
        session.execute(forged_row(4, "sha256('elsewhere')"))


def test_the_head_cannot_pass_a_transaction_without_postings(superuser: Connection) -> None:
    with superuser.transaction():
        superuser.execute(forged_row(1, "'\\x" + "00" * 32 + "'::bytea"))
        with pytest.raises(errors.IntegrityConstraintViolation, match="fewer than two postings"):
            superuser.execute(
                "UPDATE ledger_head SET seq = 1, hash = (SELECT hash FROM ledger_transactions)"
            )


def posting_row(seq: int, index: int, account: str, direction: str, amount: int) -> str:
    return f"({seq}, {index}, '{account}', '{direction}', {amount}, 'usd')"


def insert_postings(session: Connection, *rows: str) -> None:
    session.execute(
        "INSERT INTO ledger_postings (transaction_seq, index, account_code, direction, amount,"
        " currency) VALUES " + ", ".join(rows)
    )


CLEARING = "provider:stripe:clearing:usd"
PAYABLE = "merchant:mer_a:payable:usd"


def test_postings_cannot_be_added_to_a_sealed_transaction(session: Connection) -> None:
    with pytest.raises(errors.IntegrityConstraintViolation, match="are sealed"):
        insert_postings(
            session,
            posting_row(2, 2, CLEARING, "debit", 5),
            posting_row(2, 3, PAYABLE, "credit", 5),
        )


def test_postings_must_name_a_recorded_transaction(session: Connection) -> None:
    with pytest.raises(errors.ForeignKeyViolation, match="no recorded transaction"):
        insert_postings(
            session,
            posting_row(9, 0, CLEARING, "debit", 5),
            posting_row(9, 1, PAYABLE, "credit", 5),
        )


def test_postings_must_name_an_account_in_their_currency(session: Connection) -> None:
    with session.transaction():
        session.execute(forged_row(4, HEAD_HASH))
        with pytest.raises(errors.ForeignKeyViolation, match="no account"):
            insert_postings(
                session,
                posting_row(4, 0, "nobody:clearing", "debit", 5),
                posting_row(4, 1, PAYABLE, "credit", 5),
            )


def test_postings_must_balance(session: Connection) -> None:
    with session.transaction():
        session.execute(forged_row(4, HEAD_HASH))
        with pytest.raises(errors.IntegrityConstraintViolation, match="debits and credits"):
            insert_postings(
                session,
                posting_row(4, 0, CLEARING, "debit", 5),
                posting_row(4, 1, PAYABLE, "credit", 4),
            )
