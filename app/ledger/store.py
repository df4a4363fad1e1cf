"""Reading the stored chain in seq order: each transaction row with its posting rows."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any, Final

import psycopg
from sqlalchemy import Engine

from app.db import psycopg_connection
from app.ledger.errors import LedgerNotInitialised

#: seq, id, kind, business_key, reference, merchant_id, created_at, encoding_version,
#: prev_hash, hash
TransactionRow = tuple[int, str, str, str, str, str, datetime, int, bytes, bytes]
#: Where a TransactionRow holds its hash.
HASH_FIELD: Final = 9
#: transaction_seq, index, account_code, direction, amount, currency
PostingRow = tuple[int, int, str, str, int, str]
#: A transaction with its postings; None when postings outlived their transaction.
StoredTransaction = tuple[int, TransactionRow | None, list[PostingRow]]

TRANSACTIONS_SQL = """
    SELECT seq, id, kind, business_key, reference, merchant_id, created_at,
           encoding_version, prev_hash, hash
      FROM ledger_transactions
     WHERE seq BETWEEN %(seq_min)s AND %(seq_max)s
     ORDER BY seq
"""
POSTINGS_SQL = """
    SELECT transaction_seq, index, account_code, direction, amount, currency
      FROM ledger_postings
     WHERE transaction_seq BETWEEN %(seq_min)s AND %(seq_max)s
     ORDER BY transaction_seq, index
"""
HEAD_SQL = "SELECT seq, hash FROM ledger_head WHERE id = 1"


@dataclass(frozen=True, slots=True)
class Head:
    """The last sealed transaction: its seq and hash (seq 0 and the genesis hash when empty)."""

    seq: int
    hash: bytes


@contextmanager
def read_only_snapshot(engine: Engine) -> Iterator[psycopg.Connection[Any]]:
    """A read-only REPEATABLE READ transaction: every read in it sees one committed state, so
    appends running meanwhile cannot make the head and the chain disagree."""
    with (
        engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        ) as connection,
        connection.begin(),
    ):
        yield psycopg_connection(connection)


def read_head(connection: psycopg.Connection[Any], *, for_update: bool) -> Head:
    row = connection.execute(HEAD_SQL + (" FOR UPDATE" if for_update else "")).fetchone()
    if row is None:
        raise LedgerNotInitialised("ledger_head has no row: run `alembic upgrade head`")
    return Head(seq=row[0], hash=row[1])


def with_postings(
    transactions: Iterable[TransactionRow], postings: Iterable[PostingRow]
) -> Iterator[StoredTransaction]:
    """Merges two seq-ordered streams; a posting never goes unseen, even without its row."""
    groups = ((seq, list(rows)) for seq, rows in groupby(postings, key=itemgetter(0)))
    group = next(groups, None)
    for transaction in transactions:
        seq = transaction[0]
        while group is not None and group[0] < seq:
            yield group[0], None, group[1]
            group = next(groups, None)
        if group is not None and group[0] == seq:
            yield seq, transaction, group[1]
            group = next(groups, None)
        else:
            yield seq, transaction, []
    while group is not None:
        yield group[0], None, group[1]
        group = next(groups, None)
