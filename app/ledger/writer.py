"""Appending entries to the chain: one database transaction and one head lock per batch.

The head row lock serialises appenders, so seqs stay contiguous (no sequence: sequences leave
gaps after aborts) and a business key seen by one appender is seen by the next. Hashes are
chained here in Python, rows go in as COPY text, and the server's digest of the stored batch is
compared with what was written before the head moves and the transaction commits.
Each entry is validated as it is sealed, so Python checks the batch while the server inserts it;
an invalid entry aborts the COPY and the transaction rolls back with nothing written.
"""

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import Engine

from app.db import psycopg_connection
from app.ledger.canonical import ENCODING_VERSION, encode_v1_text, format_timestamp
from app.ledger.copy_rows import (
    COPY_POSTINGS_SQL,
    COPY_TRANSACTIONS_SQL,
    READ_BACK_DIGESTS_SQL,
    READ_BACK_POSTING_LINES_SQL,
    READ_BACK_TRANSACTION_LINES_SQL,
    posting_lines,
    transaction_line,
)
from app.ledger.entry import Entry, Posting, Recorded, posting_fields
from app.ledger.errors import (
    AccountCurrencyMismatch,
    BusinessKeyConflict,
    ChainBroken,
)
from app.ledger.store import Head, read_head
from app.ledger.validation import validate_batch, validate_batch_size, validate_entry

#: One stuck appender must not block every other one forever; past this the batch fails.
HEAD_LOCK_TIMEOUT_MS = 30_000
TRANSACTION_ID_PREFIX = "ltx_"
#: The seq in 12 hex digits (2^48 transactions), then 12 random ones: see transaction_id.
TRANSACTION_ID_SEQ_DIGITS = 12
TRANSACTION_ID_RANDOM_BYTES = 6
BUSINESS_KEY_CONSTRAINT = "uq_ledger_transactions_business_key"
OPTIMISTIC_SAVEPOINT = "ledger_append_optimistic"
#: Transactions per write to a COPY stream: the server inserts one chunk while Python builds the
#: next.
COPY_CHUNK_ROWS = 1_000


class _Written(NamedTuple):
    """The COPY text of a batch, as streamed to the server."""

    transactions: bytes
    postings: bytes


class _Digests(NamedTuple):
    """SHA-256 of each COPY text of a batch."""

    transactions: bytes
    postings: bytes


class _Sealed(NamedTuple):
    seq: int
    transaction_id: str
    entry: Entry
    hash: bytes


def append(engine: Engine, entries: Sequence[Entry]) -> list[Recorded]:
    """Records each entry once: one Recorded per input entry, in input order."""
    validate_batch_size(entries)
    if not entries:
        return []
    unique = _unique_by_key(entries)
    # READ COMMITTED on purpose: once the head lock is granted, every later statement sees what
    # the previous holder committed, so its business keys are found and skipped.
    with (
        engine.connect().execution_options(isolation_level="READ COMMITTED") as connection,
        connection.begin(),
    ):
        recorded = _append_unique(psycopg_connection(connection), unique)
    return _in_input_order(entries, recorded)


def _append_unique(
    connection: psycopg.Connection[Any], unique: dict[str, Entry]
) -> dict[str, Recorded]:
    connection.execute(
        "SELECT set_config('lock_timeout', %s, true)", (f"{HEAD_LOCK_TIMEOUT_MS}ms",)
    )
    head = read_head(connection, for_update=True)
    # Optimistic: a batch rarely repeats a key, so the unique index finds repeats for free
    # instead of a lookup per key. On a repeat, undo the attempt and write only the new ones.
    connection.execute(f"SAVEPOINT {OPTIMISTIC_SAVEPOINT}")
    try:
        return _write(connection, head, list(unique.values()))
    except psycopg.errors.UniqueViolation as error:
        if error.diag.constraint_name != BUSINESS_KEY_CONSTRAINT:
            raise
    connection.execute(f"ROLLBACK TO SAVEPOINT {OPTIMISTIC_SAVEPOINT}")
    # The failed attempt may have stopped before validating every entry; the keys and postings
    # are compared with stored ones below, so check them all first.
    validate_batch(list(unique.values()))
    recorded = _recorded_before(connection, unique)
    fresh = [entry for key, entry in unique.items() if key not in recorded]
    if not fresh:
        return recorded
    return recorded | _write(connection, head, fresh)


def _write(
    connection: psycopg.Connection[Any], head: Head, entries: list[Entry]
) -> dict[str, Recorded]:
    created_at = _database_clock(connection)
    sealed, transactions = _seal_and_copy(connection, head, entries, created_at)
    # After the transactions' COPY, which validated every entry: accounts come from valid
    # postings only. The postings' trigger needs them; the transactions' does not.
    _ensure_accounts(connection, entries)
    written, digests, recorded = _copy_postings(connection, sealed, transactions)
    _check_read_back(connection, sealed, created_at, written, digests)
    _advance_head(connection, sealed[-1])
    return recorded


def _unique_by_key(entries: Sequence[Entry]) -> dict[str, Entry]:
    unique: dict[str, Entry] = {}
    for entry in entries:
        if type(entry.business_key) is not str:
            # Not a key to look up by (it might not even hash): refused as validation refuses it.
            validate_entry(entry)
        first = unique.setdefault(entry.business_key, entry)
        if first != entry:
            raise BusinessKeyConflict(entry.business_key)
    return unique


def _in_input_order(entries: Sequence[Entry], recorded: dict[str, Recorded]) -> list[Recorded]:
    if len(recorded) == len(entries):
        # No key repeats within the batch (the usual case): each answer as recorded.
        return [recorded[entry.business_key] for entry in entries]
    answered: set[str] = set()
    result: list[Recorded] = []
    for entry in entries:
        key = entry.business_key
        first = recorded[key]
        result.append(replace(first, created=False) if key in answered else first)
        answered.add(key)
    return result


def _recorded_before(
    connection: psycopg.Connection[Any], unique: dict[str, Entry]
) -> dict[str, Recorded]:
    """Entries already in the chain; each must match what is asked now, field for field."""
    rows = connection.execute(
        "SELECT seq, id, kind, business_key, reference, merchant_id FROM ledger_transactions"
        " WHERE business_key = ANY(%s)",
        (list(unique),),
    ).fetchall()
    if not rows:
        return {}
    postings = _stored_postings(connection, [row[0] for row in rows])
    recorded: dict[str, Recorded] = {}
    for seq, transaction_id, kind, business_key, reference, merchant_id in rows:
        stored = Entry(business_key, kind, reference, merchant_id, postings.get(seq, ()))
        if stored != unique[business_key]:
            raise BusinessKeyConflict(business_key)
        recorded[business_key] = Recorded(business_key, transaction_id, seq, created=False)
    return recorded


def _stored_postings(
    connection: psycopg.Connection[Any], seqs: list[int]
) -> dict[int, tuple[Posting, ...]]:
    rows = connection.execute(
        "SELECT transaction_seq, account_code, direction, amount, currency FROM ledger_postings"
        " WHERE transaction_seq = ANY(%s) ORDER BY transaction_seq, index",
        (seqs,),
    ).fetchall()
    postings: dict[int, list[Posting]] = {}
    for seq, account, direction, amount, currency in rows:
        postings.setdefault(seq, []).append(Posting(account, direction, amount, currency))
    return {seq: tuple(items) for seq, items in postings.items()}


def _ensure_accounts(connection: psycopg.Connection[Any], entries: list[Entry]) -> None:
    """Creates accounts on first use; an account keeps the currency it was created with."""
    pairs = {(posting.account, posting.currency) for entry in entries for posting in entry.postings}
    codes = [code for code, _ in pairs]
    connection.execute(
        "INSERT INTO ledger_accounts (code, currency)"
        " SELECT * FROM unnest(%s::text[], %s::text[]) ON CONFLICT (code) DO NOTHING",
        (codes, [currency for _, currency in pairs]),
    )
    kept = dict(
        connection.execute(
            "SELECT code, currency FROM ledger_accounts WHERE code = ANY(%s)", (codes,)
        ).fetchall()
    )
    for code, currency in pairs:
        if kept[code] != currency:
            raise AccountCurrencyMismatch(code, kept[code], currency)


def _database_clock(connection: psycopg.Connection[Any]) -> datetime:
    # Read after the head lock is granted, so created_at follows seq order across appenders
    # and comes from one clock whichever host appends.
    moment: datetime = connection.execute("SELECT clock_timestamp()").fetchall()[0][0]
    return moment


def _seal_and_copy(
    connection: psycopg.Connection[Any], head: Head, entries: list[Entry], created_at: datetime
) -> tuple[list[_Sealed], bytes]:
    """Validates each entry and chains it onto the one before, streaming the rows chunk by
    chunk, so the server inserts while Python checks and hashes the rest. Answers the batch and
    the COPY text written. An invalid entry raises inside the COPY, which aborts it."""
    sealed: list[_Sealed] = []
    chunks: list[str] = []
    lines: list[str] = []
    timestamp = format_timestamp(created_at)
    seq, prev_hash = head.seq, head.hash
    # One call for the whole batch's random id tails instead of one per entry.
    tails = secrets.token_hex(TRANSACTION_ID_RANDOM_BYTES * len(entries))
    tail_digits = 2 * TRANSACTION_ID_RANDOM_BYTES
    with connection.cursor() as cursor, cursor.copy(COPY_TRANSACTIONS_SQL) as copy:
        for position, entry in enumerate(entries):
            validate_entry(entry)
            seq += 1
            start = position * tail_digits
            transaction_id = _transaction_id(seq, tails[start : start + tail_digits])
            # Validation has just checked every value, so the text is encoded without checking
            # again.
            canonical = encode_v1_text(
                seq=seq,
                transaction_id=transaction_id,
                kind=entry.kind,
                business_key=entry.business_key,
                reference=entry.reference,
                merchant_id=entry.merchant_id,
                timestamp=timestamp,
                postings=[posting_fields(posting) for posting in entry.postings],
            )
            digest = hashlib.sha256(prev_hash + canonical.encode("ascii")).digest()
            lines.append(
                transaction_line(
                    seq, transaction_id, entry, timestamp, ENCODING_VERSION, prev_hash, digest
                )
            )
            sealed.append(_Sealed(seq, transaction_id, entry, digest))
            prev_hash = digest
            if len(lines) == COPY_CHUNK_ROWS:
                chunks.append("".join(lines))
                copy.write(chunks[-1])
                lines = []
        chunks.append("".join(lines))
        copy.write(chunks[-1])
    return sealed, "".join(chunks).encode("ascii")


def _copy_postings(
    connection: psycopg.Connection[Any], sealed: list[_Sealed], transactions: bytes
) -> tuple[_Written, _Digests, dict[str, Recorded]]:
    """Renders the postings chunk by chunk while the server inserts the chunk before: the
    transactions' COPY keeps Python busier than the server, this one the other way round.
    Answers the batch's COPY text, its digests for the read-back, and the answer."""
    chunks: list[str] = []
    with connection.cursor() as cursor, cursor.copy(COPY_POSTINGS_SQL) as copy:
        for start in range(0, len(sealed), COPY_CHUNK_ROWS):
            chunk = sealed[start : start + COPY_CHUNK_ROWS]
            chunks.append("".join([posting_lines(item.seq, item.entry) for item in chunk]))
            copy.write(chunks[-1])
        # While the server inserts the last chunk and runs the trigger. (Leaving the block
        # waits for it.)
        written = _Written(transactions, "".join(chunks).encode("ascii"))
        digests = _Digests(
            hashlib.sha256(written.transactions).digest(),
            hashlib.sha256(written.postings).digest(),
        )
        recorded = {
            item.entry.business_key: Recorded(
                item.entry.business_key, item.transaction_id, item.seq, created=True
            )
            for item in sealed
        }
    return written, digests, recorded


def _transaction_id(seq: int, random_tail: str) -> str:
    """``ltx_`` + 24 hex digits, the seq first: unique because the seq is, and in seq order, so
    the unique index on id takes each batch at its right-most page instead of one random page
    per row (that cost more than the rest of the transactions' COPY). The random tail keeps ids
    of different ledgers (test, staging, production) apart."""
    return f"{TRANSACTION_ID_PREFIX}{seq:0{TRANSACTION_ID_SEQ_DIGITS}x}{random_tail}"


def _check_read_back(
    connection: psycopg.Connection[Any],
    sealed: list[_Sealed],
    created_at: datetime,
    written: _Written,
    digests: _Digests,
) -> None:
    """Has the server render the stored batch as the COPY text and compares digests: a value
    the round trip changed (time precision, padding, encoding) fails here instead of in a later
    verify. Comparing is enough: the rows were validated and chained before they were written,
    so equal rows hold the same hashes and the same money."""
    bounds = {
        "seq_min": sealed[0].seq,
        "seq_max": sealed[-1].seq,
        "created_at": created_at,
        "timestamp": format_timestamp(created_at),
    }
    row = connection.execute(READ_BACK_DIGESTS_SQL, bounds).fetchone()
    stored = (None, None) if row is None else row
    if stored[0] != digests.transactions:
        seq = _first_difference(
            connection, READ_BACK_TRANSACTION_LINES_SQL, bounds, written.transactions
        )
        raise ChainBroken(seq, "the read-back transaction differs from what was written")
    if stored[1] != digests.postings:
        seq = _first_difference(connection, READ_BACK_POSTING_LINES_SQL, bounds, written.postings)
        raise ChainBroken(seq, "the read-back postings differ from what was written")


def _first_difference(
    connection: psycopg.Connection[Any], sql: str, bounds: dict[str, Any], written: bytes
) -> int:
    """The seq of the first stored line that differs from the written one, or is missing."""
    stored = connection.execute(sql, bounds).fetchall()
    written_lines = written.decode("ascii").splitlines(keepends=True)
    for (seq, stored_line), written_line in zip(stored, written_lines, strict=False):
        if stored_line != written_line:
            return int(seq)
    if len(stored) > len(written_lines):
        return int(stored[len(written_lines)][0])
    return int(written_lines[len(stored)].split("\t", 1)[0])


def _advance_head(connection: psycopg.Connection[Any], last: _Sealed) -> None:
    # The row is locked, so it exists; its trigger refuses a head that is not the last hash.
    connection.execute(
        "UPDATE ledger_head SET seq = %s, hash = %s WHERE id = 1", (last.seq, last.hash)
    )
