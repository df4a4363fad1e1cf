"""The verifier: re-derives every hash and balance and names the first bad seq.

It reads one REPEATABLE READ snapshot, so appends running meanwhile cannot make the head and
the chain disagree, and streams two seq-ordered server-side cursors (transactions, postings)
merged in Python: no ORM objects, no per-row round trips.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import Engine

from app.db import psycopg_connection
from app.ledger.canonical import GENESIS_HASH
from app.ledger.chain import Break, ChainCheck
from app.ledger.entry import DEBIT
from app.ledger.store import (
    POSTINGS_SQL,
    TRANSACTIONS_SQL,
    Head,
    PostingRow,
    read_head,
    with_postings,
)

#: Rows per FETCH from each server-side cursor: large enough to amortise the round trip,
#: small enough to keep memory flat whatever the ledger's size.
FETCH_ROWS = 10_000
#: The stream runs to the end of the table, not to the head: rows past the head are a finding.
SEQ_MAX = 2**63 - 1

#: account -> currency -> debits minus credits
Balances = dict[str, dict[str, int]]


@dataclass(frozen=True)
class VerifyReport:
    """``balances`` are net over the checked range: the full balances when from_seq is 1."""

    ok: bool
    entries_checked: int
    first_bad_seq: int | None
    reason: str | None
    head_seq: int
    head_hash_hex: str
    balances: Balances = field(default_factory=dict)


def verify(engine: Engine, *, from_seq: int = 1, from_hash: bytes | None = None) -> VerifyReport:
    """Checks seqs from ``from_seq`` on; ``from_hash`` is the trusted hash of ``from_seq - 1``
    (default: genesis for seq 1, else the stored hash, taken on trust)."""
    if from_seq < 1:
        raise ValueError(f"from_seq {from_seq} is below 1")
    with (
        engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        ) as connection,
        connection.begin(),
    ):
        return _verify_snapshot(psycopg_connection(connection), from_seq, from_hash)


def _verify_snapshot(
    connection: psycopg.Connection[Any], from_seq: int, from_hash: bytes | None
) -> VerifyReport:
    head = read_head(connection, for_update=False)
    if from_seq > head.seq + 1:
        raise ValueError(f"from_seq {from_seq} lies beyond the head (seq {head.seq})")
    prev_hash = from_hash if from_hash is not None else _hash_before(connection, from_seq)
    balances: Balances = {}
    if prev_hash is None:
        broken: Break | None = Break(from_seq - 1, f"seq {from_seq - 1} is missing")
        checked = 0
    else:
        check = ChainCheck(next_seq=from_seq, prev_hash=prev_hash)
        broken = _walk(connection, head, check, balances)
        checked = check.next_seq - from_seq
    return VerifyReport(
        ok=broken is None,
        entries_checked=checked,
        first_bad_seq=None if broken is None else broken.seq,
        reason=None if broken is None else broken.reason,
        head_seq=head.seq,
        head_hash_hex=head.hash.hex(),
        balances=balances,
    )


def _hash_before(connection: psycopg.Connection[Any], from_seq: int) -> bytes | None:
    if from_seq == 1:
        return GENESIS_HASH
    row = connection.execute(
        "SELECT hash FROM ledger_transactions WHERE seq = %s", (from_seq - 1,)
    ).fetchone()
    return None if row is None else bytes(row[0])


def _walk(
    connection: psycopg.Connection[Any], head: Head, check: ChainCheck, balances: Balances
) -> Break | None:
    bounds = {"seq_min": check.next_seq, "seq_max": SEQ_MAX}
    with (
        connection.cursor("ledger_verify_transactions", binary=True) as transactions,
        connection.cursor("ledger_verify_postings", binary=True) as postings,
    ):
        transactions.execute(TRANSACTIONS_SQL, bounds)
        postings.execute(POSTINGS_SQL, bounds)
        for seq, transaction, rows in with_postings(_rows(transactions), _rows(postings)):
            if seq > head.seq:
                return _head_problem(check, head) or Break(head.seq + 1, "recorded past the head")
            broken = check.check(seq, transaction, rows)
            if broken is not None:
                return broken
            _add_postings(balances, rows)
    return _head_problem(check, head)


def _rows(cursor: psycopg.ServerCursor[Any]) -> Iterator[Any]:
    # fetchmany and a plain list: iterating the cursor itself costs a Python call per row.
    while batch := cursor.fetchmany(FETCH_ROWS):
        yield from batch


def _head_problem(check: ChainCheck, head: Head) -> Break | None:
    """After the last checked seq: the head must name exactly it and its hash."""
    if check.next_seq <= head.seq:
        return Break(check.next_seq, f"seq {check.next_seq} is missing; the head is at {head.seq}")
    if check.last_hash != head.hash:
        return Break(head.seq, "ledger_head's hash is not the hash of its seq")
    return None


def _add_postings(balances: Balances, rows: Iterable[PostingRow]) -> None:
    for _, _, account, direction, amount, currency in rows:
        nets = balances.setdefault(account, {})
        nets[currency] = nets.get(currency, 0) + (amount if direction == DEBIT else -amount)
