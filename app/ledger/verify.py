"""The verifier: re-derives every hash and balance and names the first bad seq.

It reads one REPEATABLE READ snapshot, so appends running meanwhile cannot make the head and
the chain disagree. One server-side cursor streams each transaction's canonical bytes, built
by the server (app.ledger.prefilter); Python hashes and links them. A transaction the stream
cannot confirm gets the exact check of app.ledger.chain, which names the reason; balances are
summed by the server over the transactions that passed. Large ranges are walked in two halves
at once, over one exported snapshot, so the server's share runs on two processes.
"""

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine

from app.db import psycopg_connection
from app.ledger.balances import Balances, read_balances
from app.ledger.canonical import GENESIS_HASH, is_plain_encoding
from app.ledger.chain import Break, ChainCheck
from app.ledger.prefilter import CANONICAL_STREAM_SQL
from app.ledger.store import (
    POSTINGS_SQL,
    TRANSACTIONS_SQL,
    Head,
    read_head,
    with_postings,
)

#: Rows per FETCH from the server-side cursor: large enough to amortise the round trip,
#: small enough to keep memory flat whatever the ledger's size.
FETCH_ROWS = 20_000
#: Per sort or hash of the verify query; local to its read-only transaction.
WORK_MEMORY_MB = 64
#: Below this many entries one stream is quicker than starting a second one.
PARALLEL_ENTRIES_MIN = 50_000
#: Where a stream row holds its transaction's number of postings.
POSTING_COUNT_FIELD = 3
#: The stream runs to the end of the table, not to the head: rows past the head are a finding.
SEQ_MAX = 2**63 - 1


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
    with _snapshot(engine) as connection:
        return _verify_snapshot(engine, connection, from_seq, from_hash)


@contextmanager
def _snapshot(engine: Engine, snapshot_id: str | None = None) -> Iterator[psycopg.Connection[Any]]:
    """A read-only REPEATABLE READ transaction; with ``snapshot_id``, it sees exactly what the
    transaction that exported it sees."""
    with (
        engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        ) as connection,
        connection.begin(),
    ):
        driver = psycopg_connection(connection)
        if snapshot_id is not None:
            # SET takes no bind parameters: the id is quoted as a literal instead.
            driver.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_id)))
        # Sorts and hashes of a whole range stay in memory instead of spilling to disk.
        driver.execute("SELECT set_config('work_mem', %s, true)", (f"{WORK_MEMORY_MB}MB",))
        yield driver


def _verify_snapshot(
    engine: Engine, connection: psycopg.Connection[Any], from_seq: int, from_hash: bytes | None
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
        if head.seq - from_seq + 1 >= PARALLEL_ENTRIES_MIN:
            broken, check = _walk_in_two(engine, connection, head, check)
        else:
            broken = _walk(connection, head, check, seq_max=SEQ_MAX)
        broken = broken or _head_problem(check, head)
        checked = check.next_seq - from_seq
        balances = read_balances(connection, seq_min=from_seq, seq_max=check.next_seq - 1)
    return VerifyReport(
        ok=broken is None,
        entries_checked=checked,
        first_bad_seq=None if broken is None else broken.seq,
        reason=None if broken is None else broken.reason,
        head_seq=head.seq,
        head_hash_hex=head.hash.hex(),
        balances=balances,
    )


def _walk_in_two(
    engine: Engine, connection: psycopg.Connection[Any], head: Head, first: ChainCheck
) -> tuple[Break | None, ChainCheck]:
    """Walks the two halves at once, each on its own server process, over one snapshot. The
    second half starts from the stored hash before it; it counts only once the first half has
    checked its way exactly up to that hash."""
    middle_seq = first.next_seq + (head.seq - first.next_seq) // 2
    middle_hash = _hash_before(connection, middle_seq + 1)
    if middle_hash is None:
        return _walk(connection, head, first, seq_max=SEQ_MAX), first
    second = ChainCheck(next_seq=middle_seq + 1, prev_hash=middle_hash)
    snapshot_id = _export_snapshot(connection)
    with ThreadPoolExecutor(max_workers=1) as pool:
        second_broken = pool.submit(_walk_snapshot, engine, snapshot_id, head, second)
        first_broken = _walk(connection, head, first, seq_max=middle_seq)
        if first_broken is not None:
            return first_broken, first
        if first.next_seq != middle_seq + 1 or first.last_hash != middle_hash:
            return Break(first.next_seq, f"seq {first.next_seq} is missing"), first
        return second_broken.result(), second


def _export_snapshot(connection: psycopg.Connection[Any]) -> str:
    row = connection.execute("SELECT pg_export_snapshot()").fetchone()
    if row is None:
        raise RuntimeError("pg_export_snapshot() answered no row")
    return str(row[0])


def _walk_snapshot(engine: Engine, snapshot_id: str, head: Head, check: ChainCheck) -> Break | None:
    with _snapshot(engine, snapshot_id) as connection:
        return _walk(connection, head, check, seq_max=SEQ_MAX)


def _hash_before(connection: psycopg.Connection[Any], from_seq: int) -> bytes | None:
    if from_seq == 1:
        return GENESIS_HASH
    row = connection.execute(
        "SELECT hash FROM ledger_transactions WHERE seq = %s", (from_seq - 1,)
    ).fetchone()
    return None if row is None else bytes(row[0])


def _walk(
    connection: psycopg.Connection[Any], head: Head, check: ChainCheck, *, seq_max: int
) -> Break | None:
    """Checks from the next expected seq up to ``seq_max``; stops at the first break."""
    bounds = {"seq_min": check.next_seq, "seq_max": seq_max}
    postings_total = _postings_between(connection, bounds)
    postings_seen = 0
    with connection.cursor("ledger_verify_stream", binary=True) as stream:
        stream.execute(CANONICAL_STREAM_SQL, bounds)
        while rows := stream.fetchmany(FETCH_ROWS):
            broken = _check_rows(connection, head, check, rows)
            if broken is not None:
                return broken
            postings_seen += sum([row[POSTING_COUNT_FIELD] or 0 for row in rows])
    if postings_seen != postings_total:
        # Postings past the last transaction, without one: the exact check names them.
        return _exact_check(connection, head, check, seq_max=seq_max)
    return None


def _postings_between(connection: psycopg.Connection[Any], bounds: dict[str, int]) -> int:
    row = connection.execute(
        "SELECT count(*) FROM ledger_postings"
        " WHERE transaction_seq BETWEEN %(seq_min)s AND %(seq_max)s",
        bounds,
    ).fetchone()
    return 0 if row is None else int(row[0])


def _check_rows(
    connection: psycopg.Connection[Any], head: Head, check: ChainCheck, rows: list[Any]
) -> Break | None:
    """The hot loop: locals instead of attributes, one hashlib call per transaction. Whatever
    it cannot confirm goes to the exact check, which names the reason."""
    sha256 = hashlib.sha256
    next_seq, last_hash = check.next_seq, check.last_hash
    for seq, prev_hash, stored_hash, postings, canonical in rows:
        if (
            seq == next_seq
            and canonical is not None
            and prev_hash == last_hash
            and is_plain_encoding(canonical, postings)
            and sha256(last_hash + canonical).digest() == stored_hash
            and seq <= head.seq
        ):
            next_seq, last_hash = seq + 1, stored_hash
            continue
        check.next_seq, check.last_hash = next_seq, last_hash
        broken = _exact_check(connection, head, check, seq_max=seq)
        if broken is not None:
            return broken
        next_seq, last_hash = check.next_seq, check.last_hash
    check.next_seq, check.last_hash = next_seq, last_hash
    return None


def _exact_check(
    connection: psycopg.Connection[Any], head: Head, check: ChainCheck, *, seq_max: int
) -> Break | None:
    """Checks every stored seq from the next expected one to ``seq_max`` the slow, exact way,
    postings without a transaction included."""
    bounds = {"seq_min": check.next_seq, "seq_max": seq_max}
    with connection.cursor(binary=True) as transactions, connection.cursor(binary=True) as postings:
        transactions.execute(TRANSACTIONS_SQL, bounds)
        postings.execute(POSTINGS_SQL, bounds)
        merged = list(with_postings(transactions.fetchall(), postings.fetchall()))
    for seq, transaction, posting_rows in merged:
        if seq > head.seq:
            return _head_problem(check, head) or Break(head.seq + 1, "recorded past the head")
        broken = check.check(seq, transaction, posting_rows)
        if broken is not None:
            return broken
    return None


def _head_problem(check: ChainCheck, head: Head) -> Break | None:
    """After the last checked seq: the head must name exactly it and its hash."""
    if check.next_seq <= head.seq:
        return Break(check.next_seq, f"seq {check.next_seq} is missing; the head is at {head.seq}")
    if check.last_hash != head.hash:
        return Break(head.seq, "ledger_head's hash is not the hash of its seq")
    return None
