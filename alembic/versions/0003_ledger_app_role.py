"""The application role: it may read and append to the ledger, never rewrite it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

``paystream_app`` (NOLOGIN: a login role is granted membership, or a session runs
``SET ROLE paystream_app``) may SELECT and INSERT on the ledger tables and UPDATE only
``ledger_head``, which the writer locks FOR UPDATE and moves forward. UPDATE, DELETE and
TRUNCATE on the rest are refused by privilege before any trigger runs; the triggers still stand
behind it for roles that hold more rights.

Roles belong to the whole cluster, so the role is created only when missing, and only when the
migrating user may create roles; otherwise the migration grants to an existing role or skips
with a notice. The downgrade revokes what this migration granted, then drops the role unless
it still owns or holds something, here or in another database (a notice says so).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "paystream_app"
APPEND_ONLY_TABLES = "ledger_accounts, ledger_transactions, ledger_postings"

UPGRADE = f"""
DO $$
DECLARE
    may_create boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        SELECT rolsuper OR rolcreaterole INTO may_create FROM pg_roles
         WHERE rolname = current_user;
        IF NOT may_create THEN
            RAISE NOTICE 'role {APP_ROLE} not created: % may not create roles', current_user;
            RETURN;
        END IF;
        CREATE ROLE {APP_ROLE} NOLOGIN;
    END IF;
    GRANT USAGE ON SCHEMA public TO {APP_ROLE};
    REVOKE ALL ON {APPEND_ONLY_TABLES}, ledger_head FROM {APP_ROLE};
    GRANT SELECT, INSERT ON {APPEND_ONLY_TABLES} TO {APP_ROLE};
    GRANT SELECT, UPDATE ON ledger_head TO {APP_ROLE};
END
$$
"""

DOWNGRADE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        RETURN;
    END IF;
    REVOKE ALL ON {APPEND_ONLY_TABLES}, ledger_head FROM {APP_ROLE};
    REVOKE ALL ON SCHEMA public FROM {APP_ROLE};
    -- Whatever else the role owns or holds (here or in another database) is not ours to drop:
    -- then the role stays, and says why.
    BEGIN
        DROP ROLE {APP_ROLE};
    EXCEPTION
        WHEN dependent_objects_still_exist OR insufficient_privilege THEN
            RAISE NOTICE 'role {APP_ROLE} kept: %', SQLERRM;
    END;
END
$$
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
