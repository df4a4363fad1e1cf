"""Cheaper append checks: no unique index on hash, set-based posting references.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Measured with bench/ledger.py: these two were the largest server-side costs of an append.

- The unique index on ``ledger_transactions.hash`` guarded nothing the chain does not: every
  hash covers its seq (which is the primary key) and the hash before it, so two equal hashes
  would need a SHA-256 collision. Nothing looks a transaction up by hash: the head trigger and
  the verifier go by seq.
- The postings trigger looked up each posting's transaction and account one by one. The
  transactions past the head are contiguous from head + 1 (their own trigger) and never
  deleted (the guards), so "names a recorded transaction" is a range check against the largest
  seq; accounts are checked once per distinct (code, currency) of the statement.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HASH_CONSTRAINT = "uq_ledger_transactions_hash"

CHECK_POSTINGS_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_postings_check_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head_seq bigint;
    recorded_seq_max bigint;
    first_seq bigint;
    last_seq bigint;
BEGIN
    SELECT seq INTO head_seq FROM ledger_head WHERE id = 1 FOR UPDATE;
    SELECT min(transaction_seq), max(transaction_seq) INTO first_seq, last_seq FROM inserted;
    IF first_seq <= head_seq THEN
        RAISE EXCEPTION 'ledger_postings: transactions up to seq % are sealed', head_seq
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    SELECT max(seq) INTO recorded_seq_max FROM ledger_transactions;
    IF last_seq > coalesce(recorded_seq_max, 0) THEN
        RAISE EXCEPTION 'ledger_postings: a posting names no recorded transaction'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (
        SELECT 1 FROM (SELECT DISTINCT account_code, currency FROM inserted) AS p
         WHERE NOT EXISTS (
               SELECT 1 FROM ledger_accounts AS a
                WHERE a.code = p.account_code AND a.currency = p.currency)
    ) THEN
        RAISE EXCEPTION 'ledger_postings: a posting names no account kept in its currency'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (
        SELECT 1 FROM inserted
         GROUP BY transaction_seq, currency
        HAVING sum(CASE direction WHEN 'debit' THEN amount ELSE -amount END) <> 0
    ) THEN
        RAISE EXCEPTION 'ledger_postings: debits and credits differ within a transaction'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$
"""

# 0001's version, restored on downgrade.
CHECK_POSTINGS_FUNCTION_0001 = """
CREATE OR REPLACE FUNCTION ledger_postings_check_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head_seq bigint;
BEGIN
    SELECT seq INTO head_seq FROM ledger_head WHERE id = 1 FOR UPDATE;
    IF EXISTS (SELECT 1 FROM inserted WHERE transaction_seq <= head_seq) THEN
        RAISE EXCEPTION 'ledger_postings: transactions up to seq % are sealed', head_seq
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF EXISTS (
        SELECT 1 FROM inserted AS p
         WHERE NOT EXISTS (SELECT 1 FROM ledger_transactions AS t WHERE t.seq = p.transaction_seq)
    ) THEN
        RAISE EXCEPTION 'ledger_postings: a posting names no recorded transaction'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (
        SELECT 1 FROM inserted AS p
         WHERE NOT EXISTS (
               SELECT 1 FROM ledger_accounts AS a
                WHERE a.code = p.account_code AND a.currency = p.currency)
    ) THEN
        RAISE EXCEPTION 'ledger_postings: a posting names no account kept in its currency'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (
        SELECT 1 FROM inserted
         GROUP BY transaction_seq, currency
        HAVING sum(CASE direction WHEN 'debit' THEN amount ELSE -amount END) <> 0
    ) THEN
        RAISE EXCEPTION 'ledger_postings: debits and credits differ within a transaction'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.drop_constraint(HASH_CONSTRAINT, "ledger_transactions", type_="unique")
    op.execute(CHECK_POSTINGS_FUNCTION)


def downgrade() -> None:
    op.execute(CHECK_POSTINGS_FUNCTION_0001)
    op.create_unique_constraint(HASH_CONSTRAINT, "ledger_transactions", ["hash"])
