"""The writer's rows as COPY text: streamed in, then read back and compared byte for byte.

Every string the ledger stores is plain (printable ASCII without ``"`` or ``\\``: checked by
validation and again by the canonical encoding before a row is written), so it needs no COPY
escaping: it holds no tab, newline or backslash. A row is one ``%`` format, far cheaper than
a binary COPY row built value by value. The read-back renders each stored row the same way
(created_at exactly as the canonical encoding writes it) and hashes the batch's text on the
server, so equal digests prove that every stored value is the value that was hashed, without
sending the rows back.
"""

from typing import Final

from app.ledger.entry import Entry

COPY_TRANSACTIONS_SQL: Final = """
    COPY ledger_transactions (seq, id, kind, business_key, reference, merchant_id, created_at,
                              encoding_version, prev_hash, hash)
    FROM STDIN (FORMAT TEXT)
"""
COPY_POSTINGS_SQL: Final = """
    COPY ledger_postings (transaction_seq, index, account_code, direction, amount, currency)
    FROM STDIN (FORMAT TEXT)
"""
# Each stored row rendered exactly as the writer's COPY text renders it. created_at: a batch
# shares one, so a row holding exactly the batch's (%(created_at)s, a timestamptz compared to
# the microsecond) is rendered by the writer's own text for it, %(timestamp)s; any other value
# by to_char, which is a different text. Formatting each row cost ~4 ms per 10,000 rows.
# A bytea in COPY text is "\x" + hex with its backslash escaped, hence the doubled backslash.
_TRANSACTION_LINE_SQL = r"""
    seq || E'\t' || id || E'\t' || kind || E'\t' || business_key || E'\t' || reference
    || E'\t' || merchant_id
    || E'\t' || CASE WHEN created_at = %(created_at)s THEN %(timestamp)s
                ELSE to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END
    || E'\t' || encoding_version || E'\t\\\\x' || encode(prev_hash, 'hex')
    || E'\t\\\\x' || encode(hash, 'hex') || E'\n'
"""
_POSTING_LINE_SQL = r"""
    transaction_seq || E'\t' || index || E'\t' || account_code || E'\t' || direction
    || E'\t' || amount || E'\t' || currency || E'\n'
"""
#: SHA-256 of the stored batch's text, transactions then postings: one row, one round trip.
READ_BACK_DIGESTS_SQL: Final = rf"""
    SELECT (SELECT sha256(convert_to(string_agg({_TRANSACTION_LINE_SQL}, '' ORDER BY seq), 'UTF8'))
              FROM ledger_transactions WHERE seq BETWEEN %(seq_min)s AND %(seq_max)s),
           (SELECT sha256(convert_to(
                       string_agg({_POSTING_LINE_SQL}, '' ORDER BY transaction_seq, index), 'UTF8'))
              FROM ledger_postings WHERE transaction_seq BETWEEN %(seq_min)s AND %(seq_max)s)
"""
#: The stored lines one by one, to name the first seq that differs.
READ_BACK_TRANSACTION_LINES_SQL: Final = f"""
    SELECT seq, {_TRANSACTION_LINE_SQL} FROM ledger_transactions
     WHERE seq BETWEEN %(seq_min)s AND %(seq_max)s ORDER BY seq
"""
READ_BACK_POSTING_LINES_SQL: Final = f"""
    SELECT transaction_seq, {_POSTING_LINE_SQL} FROM ledger_postings
     WHERE transaction_seq BETWEEN %(seq_min)s AND %(seq_max)s ORDER BY transaction_seq, index
"""

# A bytea in COPY text is "\x" + hex, its backslash escaped as "\\".
_TRANSACTION_LINE = "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\\\\x%s\t\\\\x%s\n"
_POSTING_LINE = "%d\t%d\t%s\t%s\t%d\t%s\n"


def transaction_line(
    seq: int,
    transaction_id: str,
    entry: Entry,
    timestamp: str,
    encoding_version: int,
    prev_hash: bytes,
    digest: bytes,
) -> str:
    """``timestamp`` is created_at as the canonical encoding formats it."""
    return _TRANSACTION_LINE % (
        seq,
        transaction_id,
        entry.kind,
        entry.business_key,
        entry.reference,
        entry.merchant_id,
        timestamp,
        encoding_version,
        prev_hash.hex(),
        digest.hex(),
    )


def posting_lines(seq: int, entry: Entry) -> str:
    return "".join(
        [
            _POSTING_LINE
            % (seq, index, posting.account, posting.direction, posting.amount, posting.currency)
            for index, posting in enumerate(entry.postings)
        ]
    )
