"""The verifier: re-derives every hash and balance and names the first bad seq.

It reads one REPEATABLE READ snapshot, so appends running meanwhile cannot make the head and
the chain disagree. The server checks every transaction on its own, set-based
(app.ledger.prefilter): its hash re-derived from the stored hash before it, its link, its seq
following the one before, its postings. A server-side cursor streams only the rows that did
not pass, normally none; each gets the exact check of app.ledger.chain, which names the reason.
Balances are summed by the server. From PARALLEL_ENTRIES_MIN entries on the range is checked in
two halves at once, each on its own server process over one exported snapshot.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine

from app.ledger.balances import Balances, read_balances
from app.ledger.canonical import GENESIS_HASH
from app.ledger.chain import Break, ChainCheck
from app.ledger.prefilter import FAILING_ROWS_SQL
from app.ledger.store import (
    POSTINGS_SQL,
    TRANSACTIONS_SQL,
    Head,
    read_head,
    read_only_snapshot,
    with_postings,
)

#: Failing rows per FETCH from the server-side cursor (normally there are none at all).
FETCH_ROWS = 20_000
#: Per sort or hash of the verify query; local to its read-only transaction.
WORK_MEMORY_MB = 64
#: Below this many entries one stream is quicker than starting a second one.
PARALLEL_ENTRIES_MIN = 50_000
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
    with read_only_snapshot(engine) as driver:
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
        trusted = _Trusted(from_seq, prev_hash, head.seq)
        ranges = _ranges(from_seq, head.seq)
        if len(ranges) == 1:
            results = [_check_range(connection, trusted, ranges[0])]
        else:
            results = _check_in_parallel(engine, connection, trusted, ranges)
        check = ChainCheck(next_seq=from_seq, prev_hash=prev_hash)
        broken = _follow(connection, head, check, results) or _head_problem(check, head)
        checked = check.next_seq - from_seq
        if broken is None:
            balances = _merged([result.balances for result in results])
        else:
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


@dataclass(frozen=True, slots=True)
class _Trusted:
    """Where the check starts: the first seq, the hash it must link to, and the head."""

    from_seq: int
    from_hash: bytes
    head_seq: int


@dataclass(frozen=True, slots=True)
class _RangeResult:
    """What the server found in one seq range: the rows that did not pass (seq, and the seq and
    hash of the row before it), its last stored seq and hash, and its postings' balances."""

    failing: list[tuple[int, int | None, bytes | None]]
    last: tuple[int, bytes] | None
    balances: Balances


def _ranges(from_seq: int, head_seq: int) -> list[tuple[int, int]]:
    """One range, or two halves from PARALLEL_ENTRIES_MIN entries on. The last range runs to
    the end of the table, not to the head: rows past the head are a finding."""
    if head_seq - from_seq + 1 < PARALLEL_ENTRIES_MIN:
        return [(from_seq, SEQ_MAX)]
    middle_seq = from_seq + (head_seq - from_seq) // 2
    return [(from_seq, middle_seq), (middle_seq + 1, SEQ_MAX)]


def _check_in_parallel(
    engine: Engine,
    connection: psycopg.Connection[Any],
    trusted: _Trusted,
    ranges: list[tuple[int, int]],
) -> list[_RangeResult]:
    """The first range here, the others each on a server process of its own, all over this
    transaction's snapshot: every row is checked on its own, so the ranges need no hand-over."""
    snapshot_id = _export_snapshot(connection)
    with ThreadPoolExecutor(max_workers=len(ranges) - 1) as pool:
        others = [
            pool.submit(_check_range_in_snapshot, engine, snapshot_id, trusted, seq_range)
            for seq_range in ranges[1:]
        ]
        first = _check_range(connection, trusted, ranges[0])
        return [first, *[other.result() for other in others]]


def _export_snapshot(connection: psycopg.Connection[Any]) -> str:
    row = connection.execute("SELECT pg_export_snapshot()").fetchone()
    if row is None:
        raise RuntimeError("pg_export_snapshot() answered no row")
    return str(row[0])


def _check_range_in_snapshot(
    engine: Engine, snapshot_id: str, trusted: _Trusted, seq_range: tuple[int, int]
) -> _RangeResult:
    with _snapshot(engine, snapshot_id) as connection:
        return _check_range(connection, trusted, seq_range)


def _check_range(
    connection: psycopg.Connection[Any], trusted: _Trusted, seq_range: tuple[int, int]
) -> _RangeResult:
    seq_min, seq_max = seq_range
    parameters = {
        "seq_min": seq_min,
        "seq_max": seq_max,
        "from_seq": trusted.from_seq,
        "from_hash": trusted.from_hash,
        "head_seq": trusted.head_seq,
    }
    failing: list[tuple[int, int | None, bytes | None]] = []
    with connection.cursor("ledger_verify_failing", binary=True) as stream:
        stream.execute(FAILING_ROWS_SQL, parameters)
        while rows := stream.fetchmany(FETCH_ROWS):
            failing.extend(rows)
    last = connection.execute(
        "SELECT seq, hash FROM ledger_transactions WHERE seq BETWEEN %s AND %s"
        " ORDER BY seq DESC LIMIT 1",
        seq_range,
    ).fetchone()
    balances = read_balances(connection, seq_min=seq_min, seq_max=seq_max)
    return _RangeResult(failing, None if last is None else (last[0], bytes(last[1])), balances)


def _follow(
    connection: psycopg.Connection[Any],
    head: Head,
    check: ChainCheck,
    results: list[_RangeResult],
) -> Break | None:
    """Walks the ranges in seq order, stepping over passing rows and giving each failing one
    to the exact check; stops at the first break."""
    for result in results:
        for seq, before_seq, before_hash in result.failing:
            # Every row from the next expected seq to the one before this passed on its own.
            if before_seq is not None and before_hash is not None and before_seq >= check.next_seq:
                check.next_seq, check.last_hash = before_seq + 1, bytes(before_hash)
            broken = _exact_check(connection, head, check, seq_max=seq)
            if broken is not None:
                return broken
        if result.last is not None and result.last[0] >= check.next_seq:
            check.next_seq, check.last_hash = result.last[0] + 1, result.last[1]
    if _postings_past(connection, check.next_seq):
        # Postings past the last transaction, without one: the exact check names them.
        return _exact_check(connection, head, check, seq_max=SEQ_MAX)
    return None


def _postings_past(connection: psycopg.Connection[Any], next_seq: int) -> bool:
    """Postings of a missing transaction within the chain show as a gap; these are the rest."""
    row = connection.execute(
        "SELECT EXISTS (SELECT 1 FROM ledger_postings WHERE transaction_seq >= %s)", (next_seq,)
    ).fetchone()
    return row is not None and bool(row[0])


def _merged(parts: list[Balances]) -> Balances:
    merged: Balances = {}
    for part in parts:
        for account, nets in part.items():
            into = merged.setdefault(account, {})
            for currency, net in nets.items():
                into[currency] = into.get(currency, 0) + net
    return merged


def _hash_before(connection: psycopg.Connection[Any], from_seq: int) -> bytes | None:
    if from_seq == 1:
        return GENESIS_HASH
    row = connection.execute(
        "SELECT hash FROM ledger_transactions WHERE seq = %s", (from_seq - 1,)
    ).fetchone()
    return None if row is None else bytes(row[0])


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
