"""Initial schema: merchants and the append-only, hash-chained ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Hand-written and reviewed. Limits are literals on purpose: a migration records the schema as
it was, so it must not move when application constants do.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Who may only grow: no UPDATE, DELETE or TRUNCATE, whoever asks.
APPEND_ONLY_TABLES = ("ledger_accounts", "ledger_transactions", "ledger_postings")

REFUSE_CHANGE_FUNCTION = """
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

# Inserted transactions must continue the chain from the head: contiguous seqs from head + 1,
# each prev_hash the hash before it. The hash itself is checked by the writer and the verifier
# (one canonical encoding, in Python). FOR UPDATE: inserts serialise on the head row even
# when someone bypasses the writer.
CONTINUE_CHAIN_FUNCTION = """
CREATE FUNCTION ledger_transactions_continue_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head_seq bigint;
    head_hash bytea;
    first_seq bigint;
    last_seq bigint;
    inserted_count bigint;
BEGIN
    SELECT seq, hash INTO head_seq, head_hash FROM ledger_head WHERE id = 1 FOR UPDATE;
    SELECT min(seq), max(seq), count(*) INTO first_seq, last_seq, inserted_count FROM inserted;
    IF first_seq <> head_seq + 1 OR last_seq - first_seq + 1 <> inserted_count THEN
        RAISE EXCEPTION 'ledger_transactions must continue the chain: seqs % to % after head %',
            first_seq, last_seq, head_seq
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF EXISTS (
        SELECT 1
          FROM (SELECT prev_hash, lag(hash, 1, head_hash) OVER (ORDER BY seq) AS linked_hash
                  FROM inserted) AS links
         WHERE prev_hash <> linked_hash
    ) THEN
        RAISE EXCEPTION 'ledger_transactions must link: a prev_hash is not the hash before it'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$
"""

# Instead of per-row foreign keys (one lookup and row lock per posting, about 3x the cost of
# the COPY itself): one set-based check per statement. The tables never lose a row, so a
# reference checked on insert stays valid, and unlike a foreign key this check also runs under
# session_replication_role = replica.
CHECK_POSTINGS_FUNCTION = """
CREATE FUNCTION ledger_postings_check_insert() RETURNS trigger LANGUAGE plpgsql AS $$
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

# The head only moves forward, onto a recorded transaction with that very hash, and only past
# transactions that each have at least two postings.
HEAD_FORWARD_FUNCTION = """
CREATE FUNCTION ledger_head_move_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.seq <= OLD.seq THEN
        RAISE EXCEPTION 'ledger_head only moves forward: seq % to % refused', OLD.seq, NEW.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ledger_transactions WHERE seq = NEW.seq AND hash = NEW.hash)
    THEN
        RAISE EXCEPTION 'ledger_head must name a recorded transaction: seq % refused', NEW.seq
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (SELECT count(*)
          FROM (SELECT transaction_seq FROM ledger_postings
                 WHERE transaction_seq BETWEEN OLD.seq + 1 AND NEW.seq
                 GROUP BY transaction_seq
                HAVING count(*) >= 2) AS posted) <> NEW.seq - OLD.seq
    THEN
        RAISE EXCEPTION 'ledger_head: a transaction up to seq % has fewer than two postings',
            NEW.seq
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$
"""

FUNCTIONS = (
    ("ledger_refuse_change", REFUSE_CHANGE_FUNCTION),
    ("ledger_transactions_continue_chain", CONTINUE_CHAIN_FUNCTION),
    ("ledger_postings_check_insert", CHECK_POSTINGS_FUNCTION),
    ("ledger_head_move_forward", HEAD_FORWARD_FUNCTION),
)

#: (table, trigger, when it fires, function)
TRIGGERS = (
    *(
        trigger
        for table in APPEND_ONLY_TABLES
        for trigger in (
            (
                table,
                f"{table}_refuse_change",
                "BEFORE UPDATE OR DELETE",
                "FOR EACH ROW",
                "ledger_refuse_change",
            ),
            (
                table,
                f"{table}_refuse_truncate",
                "BEFORE TRUNCATE",
                "FOR EACH STATEMENT",
                "ledger_refuse_change",
            ),
        )
    ),
    (
        "ledger_transactions",
        "ledger_transactions_continue_chain",
        "AFTER INSERT",
        "REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT",
        "ledger_transactions_continue_chain",
    ),
    (
        "ledger_postings",
        "ledger_postings_check_insert",
        "AFTER INSERT",
        "REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT",
        "ledger_postings_check_insert",
    ),
    (
        "ledger_head",
        "ledger_head_refuse_delete",
        "BEFORE DELETE",
        "FOR EACH ROW",
        "ledger_refuse_change",
    ),
    (
        "ledger_head",
        "ledger_head_refuse_truncate",
        "BEFORE TRUNCATE",
        "FOR EACH STATEMENT",
        "ledger_refuse_change",
    ),
    (
        "ledger_head",
        "ledger_head_move_forward",
        "BEFORE UPDATE",
        "FOR EACH ROW",
        "ledger_head_move_forward",
    ),
)

# A downgrade drops the ledger; it refuses while the ledger holds anything.
REFUSE_DROPPING_RECORDS = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_transactions) THEN
        RAISE EXCEPTION 'ledger_transactions is not empty: refusing to drop the ledger';
    END IF;
END
$$
"""


def upgrade() -> None:
    _create_merchants()
    _create_ledger_accounts()
    _create_ledger_transactions()
    _create_ledger_postings()
    _create_ledger_head()
    for _, definition in FUNCTIONS:
        op.execute(definition)
    for table, trigger, timing, level, function in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {trigger} {timing} ON {table} {level} EXECUTE FUNCTION {function}()"
        )
        # ALWAYS: fires even under session_replication_role = replica, which skips the rest.
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")


def downgrade() -> None:
    op.execute(REFUSE_DROPPING_RECORDS)
    for table, trigger, _, _, _ in reversed(TRIGGERS):
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for table in ("ledger_head", "ledger_postings", "ledger_transactions", "ledger_accounts"):
        op.drop_table(table)
    op.drop_table("merchants")
    for function, _ in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION {function}()")


def _create_merchants() -> None:
    op.create_table(
        "merchants",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("api_key_hash", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("char_length(id) <= 64", name=op.f("ck_merchants_id_length")),
        sa.CheckConstraint("char_length(name) <= 200", name=op.f("ck_merchants_name_length")),
        sa.CheckConstraint(
            "api_key_hash ~ '^[0-9a-f]{64}$'", name=op.f("ck_merchants_api_key_hash_sha256_hex")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_merchants"),
        sa.UniqueConstraint("api_key_hash", name="uq_merchants_api_key_hash"),
    )


def _create_ledger_accounts() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("char_length(code) <= 200", name=op.f("ck_ledger_accounts_code_length")),
        sa.CheckConstraint(
            "currency ~ '^[a-z]{3}$'", name=op.f("ck_ledger_accounts_currency_format")
        ),
        sa.PrimaryKeyConstraint("code", name="pk_ledger_accounts"),
    )


def _create_ledger_transactions() -> None:
    op.create_table(
        "ledger_transactions",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("business_key", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("merchant_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("encoding_version", sa.SmallInteger(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("seq > 0", name=op.f("ck_ledger_transactions_seq_positive")),
        sa.CheckConstraint("char_length(id) <= 64", name=op.f("ck_ledger_transactions_id_length")),
        sa.CheckConstraint(
            "kind IN ('payment_captured', 'refund')", name=op.f("ck_ledger_transactions_kind_known")
        ),
        sa.CheckConstraint(
            "char_length(business_key) <= 255",
            name=op.f("ck_ledger_transactions_business_key_length"),
        ),
        sa.CheckConstraint(
            "char_length(reference) <= 255", name=op.f("ck_ledger_transactions_reference_length")
        ),
        sa.CheckConstraint(
            "char_length(merchant_id) <= 255",
            name=op.f("ck_ledger_transactions_merchant_id_length"),
        ),
        sa.CheckConstraint(
            "encoding_version >= 1", name=op.f("ck_ledger_transactions_encoding_version_positive")
        ),
        sa.CheckConstraint(
            "octet_length(prev_hash) = 32", name=op.f("ck_ledger_transactions_prev_hash_sha256")
        ),
        sa.CheckConstraint(
            "octet_length(hash) = 32", name=op.f("ck_ledger_transactions_hash_sha256")
        ),
        sa.PrimaryKeyConstraint("seq", name="pk_ledger_transactions"),
        sa.UniqueConstraint("id", name="uq_ledger_transactions_id"),
        sa.UniqueConstraint("business_key", name="uq_ledger_transactions_business_key"),
        sa.UniqueConstraint("hash", name="uq_ledger_transactions_hash"),
    )


def _create_ledger_postings() -> None:
    op.create_table(
        "ledger_postings",
        sa.Column("transaction_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("index", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("account_code", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.CheckConstraint("index >= 0", name=op.f("ck_ledger_postings_index_non_negative")),
        sa.CheckConstraint(
            "direction IN ('debit', 'credit')", name=op.f("ck_ledger_postings_direction_known")
        ),
        sa.CheckConstraint(
            "amount > 0 AND amount <= 1000000000000000",
            name=op.f("ck_ledger_postings_amount_range"),
        ),
        sa.CheckConstraint(
            "currency ~ '^[a-z]{3}$'", name=op.f("ck_ledger_postings_currency_format")
        ),
        sa.PrimaryKeyConstraint("transaction_seq", "index", name="pk_ledger_postings"),
    )


def _create_ledger_head() -> None:
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_head_single_row")),
        sa.CheckConstraint("seq >= 0", name=op.f("ck_ledger_head_seq_non_negative")),
        sa.CheckConstraint("octet_length(hash) = 32", name=op.f("ck_ledger_head_hash_sha256")),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_head"),
    )
    # The genesis head: nothing sealed yet, and seq 1 will link to 32 zero bytes. Plain SQL so
    # `alembic upgrade --sql` renders it too.
    op.execute(
        "INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'))"
    )
