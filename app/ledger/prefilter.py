"""The verifier's fast path: the server builds each transaction's canonical bytes in SQL.

One seq-ordered stream of (seq, prev_hash, hash, posting count, canonical) where ``canonical``
is the v1 encoding built next to the data, and NULL whenever the row is not valid by the money
rules: an unknown encoding version, postings missing, out of order, out of range, in several
currencies or unbalanced. Plainness is left to Python (``canonical.is_plain_encoding``, one
regex over the whole text), which is far cheaper than a regex per string in SQL. The verifier
hashes the bytes with hashlib and links the chain; a NULL, an unplain text, a mismatch or a gap
sends that one transaction to the exact Python check (``app.ledger.chain``), which names the
reason. The fast path only lets through a row whose bytes pass the same rules and hash to the
stored hash, so it never accepts what the exact check refuses; the tests hold it to the
documented vectors.

Postings are aggregated in the order the window sorted them (transaction_seq, index) instead of
with an ORDER BY per group, which costs a sort per transaction; should the order ever differ,
the hash differs and the exact check decides, so the shortcut costs speed, never correctness.
Index steps of exactly 1 from 0 prove the indexes are 0..n-1 without a DISTINCT sort.
"""

from typing import Final

from app.ledger.limits import ACCOUNT_CODE_LENGTH_MAX, AMOUNT_MAX, POSTINGS_PER_ENTRY_MAX

_POSTINGS_VALID = f"""
    count(*) BETWEEN 2 AND {POSTINGS_PER_ENTRY_MAX}
    AND min(index) = 0 AND bool_and(coalesce(index_step, 1) = 1)
    AND bool_and(char_length(account_code) BETWEEN 1 AND {ACCOUNT_CODE_LENGTH_MAX}
                 AND direction IN ('debit', 'credit')
                 AND amount BETWEEN 1 AND {AMOUNT_MAX}
                 AND currency ~ '^[a-z]{{3}}$')
    AND min(currency) = max(currency)
    AND sum(CASE direction WHEN 'debit' THEN amount ELSE -amount END) = 0
"""

# format() builds each text in one call instead of a chain of concatenations. "%%" is a "%"
# once psycopg has bound the parameters.
_TRANSACTION_TEMPLATE = (
    '{"business_key":"%%s","created_at":"%%s","id":"%%s","kind":"%%s","merchant_id":"%%s",'
    '"postings":[%%s],"reference":"%%s","seq":%%s,"v":1}'
)
_POSTING_TEMPLATE = '["%%s","%%s",%%s,"%%s"]'

#: Transactions from %(seq_min)s to %(seq_max)s; one without postings comes through with a NULL
#: canonical. Postings without a transaction do not come through at all: the verifier counts
#: the postings the stream joined against all postings in the range (a FULL JOIN would cost a
#: sort of the whole stream instead).
CANONICAL_STREAM_SQL: Final = f"""
    SELECT t.seq, t.prev_hash, t.hash, p.posting_count,
           CASE WHEN p.valid AND t.encoding_version = 1 THEN convert_to(format(
               '{_TRANSACTION_TEMPLATE}',
               t.business_key,
               to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               t.id, t.kind, t.merchant_id, p.postings, t.reference, t.seq),
               'UTF8') END
      FROM ledger_transactions AS t
      LEFT JOIN (
            SELECT transaction_seq,
                   count(*) AS posting_count,
                   string_agg(format('{_POSTING_TEMPLATE}',
                                     account_code, direction, amount, currency), ',') AS postings,
                   {_POSTINGS_VALID} AS valid
              FROM (SELECT *, index - lag(index) OVER (
                               PARTITION BY transaction_seq ORDER BY index) AS index_step
                      FROM ledger_postings
                     WHERE transaction_seq BETWEEN %(seq_min)s AND %(seq_max)s) AS ordered
             GROUP BY transaction_seq) AS p
        ON p.transaction_seq = t.seq
     WHERE t.seq BETWEEN %(seq_min)s AND %(seq_max)s
     ORDER BY t.seq
"""
