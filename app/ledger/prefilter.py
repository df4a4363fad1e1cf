"""The verifier's fast path: the server checks every transaction of a range on its own.

Each stored hash is checked independently as SHA-256(stored prev_hash ‖ canonical bytes), the
canonical bytes built in SQL next to the data, and each prev_hash against the stored hash of
the row just before it (``lag`` over seq order). A row passes when its seq directly follows the
row before it (or it is the first seq checked and links to the trusted hash), its encoding
version is known, every string is plain, its postings are valid by the money rules and its hash
is re-derived. Passing rows from the trusted start up to some seq therefore prove the chain up to
that seq exactly as walking it would: every link is checked against the stored previous hash,
and contiguity follows from each seq following its predecessor.

Only rows that do not pass leave the server, in seq order, with the seq and hash of the row
before them; the verifier gives each to the exact Python check (``app.ledger.chain``), which
names the reason. A row the fast path cannot confirm (say, postings in several currencies) is
then confirmed there; the fast path never accepts what the exact check refuses: it applies the
same rules, some more strictly.

Postings are aggregated in the order the subquery sorted them (transaction_seq, index) instead
of with an ORDER BY per group, which costs a sort per transaction; should the order ever
differ, the hash differs and the exact check decides. Indexes are proven to be 0..n-1 without
a sort or a window: n postings whose indexes lie in 0..63 and together set exactly bits 0..n-1
hold each of 0..n-1 exactly once. One currency per transaction is proven by min = max, so the
currency pattern is matched once per transaction instead of once per posting.
"""

from typing import Final

from app.ledger.limits import (
    ACCOUNT_CODE_LENGTH_MAX,
    AMOUNT_MAX,
    POSTINGS_PER_ENTRY_MAX,
    POSTINGS_PER_ENTRY_MIN,
)

#: Matches any character that is not plain (printable ASCII but '"' and '\'). In a PostgreSQL
#: bracket expression "\[" and "\]" are the brackets themselves.
_NOT_PLAIN = r"'[^ !#-\[\]-~]'"
#: The largest posting count whose index bits fit in a bigint.
_INDEX_BITS = 64

_POSTINGS_VALID = f"""
    count(*) BETWEEN {POSTINGS_PER_ENTRY_MIN} AND {POSTINGS_PER_ENTRY_MAX}
    AND bool_and(index BETWEEN 0 AND {_INDEX_BITS - 1})
    AND bit_or(1::bigint << index) = CASE count(*) WHEN {_INDEX_BITS} THEN -1
                                         ELSE (1::bigint << count(*)::int) - 1 END
    AND bool_and(char_length(account_code) BETWEEN 1 AND {ACCOUNT_CODE_LENGTH_MAX}
                 AND account_code !~ {_NOT_PLAIN}
                 AND direction IN ('debit', 'credit')
                 AND amount BETWEEN 1 AND {AMOUNT_MAX})
    AND min(currency COLLATE "C") = max(currency COLLATE "C")
    AND min(currency COLLATE "C") ~ '^[a-z]{{3}}$'
    AND sum(CASE direction WHEN 'debit' THEN amount ELSE -amount END) = 0
"""

# format() builds each text in one call instead of a chain of concatenations. "%%" is a "%"
# once psycopg has bound the parameters.
_TRANSACTION_TEMPLATE = (
    '{"business_key":"%%s","created_at":"%%s","id":"%%s","kind":"%%s","merchant_id":"%%s",'
    '"postings":[%%s],"reference":"%%s","seq":%%s,"v":1}'
)
_POSTING_TEMPLATE = '["%%s","%%s",%%s,"%%s"]'

#: Every transaction from %(seq_min)s - 1 to %(seq_max)s in seq order with its canonical bytes
#: (NULL without postings), whether its strings, version and postings pass the rules, and the
#: seq and hash of the stored row before it. The row before the range is there only to be
#: lagged from: callers filter it out.
CANONICAL_ROWS_SQL: Final = f"""
    SELECT t.seq, t.prev_hash, t.hash,
           lag(t.seq) OVER by_seq AS before_seq, lag(t.hash) OVER by_seq AS before_hash,
           p.valid AND t.encoding_version = 1
               AND (t.id || t.kind || t.business_key || t.reference || t.merchant_id)
                   !~ {_NOT_PLAIN} AS valid,
           convert_to(format(
               '{_TRANSACTION_TEMPLATE}',
               t.business_key,
               to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               t.id, t.kind, t.merchant_id, p.postings, t.reference, t.seq),
               'UTF8') AS canonical
      FROM ledger_transactions AS t
      LEFT JOIN (
            SELECT transaction_seq,
                   string_agg(format('{_POSTING_TEMPLATE}',
                                     account_code, direction, amount, currency), ',') AS postings,
                   {_POSTINGS_VALID} AS valid
              FROM (SELECT * FROM ledger_postings
                     WHERE transaction_seq BETWEEN %(seq_min)s AND %(seq_max)s
                     ORDER BY transaction_seq, index) AS ordered
             GROUP BY transaction_seq) AS p
        ON p.transaction_seq = t.seq
     WHERE t.seq BETWEEN %(seq_min)s - 1 AND %(seq_max)s
    WINDOW by_seq AS (ORDER BY t.seq)
"""

#: The transactions from %(seq_min)s to %(seq_max)s that do not pass, in seq order, each with
#: the seq and hash of the stored row before it. %(from_seq)s links to %(from_hash)s, the
#: trusted hash; rows past %(head_seq)s never pass.
FAILING_ROWS_SQL: Final = f"""
    SELECT seq, before_seq, before_hash
      FROM ({CANONICAL_ROWS_SQL}) AS checked
     WHERE seq >= %(seq_min)s
       AND NOT coalesce(
               valid
               AND seq <= %(head_seq)s
               AND CASE WHEN seq = %(from_seq)s THEN prev_hash = %(from_hash)s
                        ELSE before_seq = seq - 1 AND prev_hash = before_hash END
               AND sha256(prev_hash || canonical) = hash,
               false)
     ORDER BY seq
"""
