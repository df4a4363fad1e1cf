"""Bounds on every ledger value; the schema's CHECK constraints repeat them."""

#: 10^15 minor units: above any real payment, far below 2^53 so every JSON reader keeps it exact.
AMOUNT_MAX = 10**15
ACCOUNT_CODE_LENGTH_MAX = 200
#: Ours are "ltx_" + 24 hex digits; the bound leaves room for a longer format later.
TRANSACTION_ID_LENGTH_MAX = 64
#: Business keys, references and merchant ids are our own identifiers plus a short suffix.
IDENTIFIER_LENGTH_MAX = 255
#: A capture or a refund needs two postings; a split payment a few more.
POSTINGS_PER_ENTRY_MIN = 2
POSTINGS_PER_ENTRY_MAX = 64
#: One head lock per batch: larger batches hold the lock longer, smaller ones pay it more often.
ENTRIES_PER_BATCH_MAX = 10_000
