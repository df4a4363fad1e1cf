"""Migrations: a fresh database goes up, down and up again, and matches the models."""

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db import create_engine_for
from app.ledger import append, capture_entry, clearing_account
from app.schema import metadata
from tests.conftest import create_database, database_url_for, drop_database, migrate
from tests.support.processes import ROOT

LEDGER_TABLES = {"ledger_accounts", "ledger_transactions", "ledger_postings", "ledger_head"}
SCHEMA_TABLES = LEDGER_TABLES | {
    "merchants",
    "payments",
    "refunds",
    "events",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
}
#: Append-only guards on three tables, two chain checks, three head triggers.
TRIGGERS_TOTAL = 3 * 2 + 2 + 3
FUNCTIONS_TOTAL = 4
APP_ROLE = "paystream_app"
#: What the application role may do, per ledger table.
APP_ROLE_PRIVILEGES = {
    "ledger_accounts": {"SELECT", "INSERT"},
    "ledger_transactions": {"SELECT", "INSERT"},
    "ledger_postings": {"SELECT", "INSERT"},
    "ledger_head": {"SELECT", "UPDATE"},
    "payments": {"SELECT", "INSERT", "UPDATE"},
    "refunds": {"SELECT", "INSERT", "UPDATE"},
    "events": {"SELECT", "INSERT"},
    "webhook_endpoints": {"SELECT", "INSERT", "UPDATE"},
    "webhook_deliveries": {"SELECT", "INSERT", "UPDATE"},
    "webhook_attempts": {"SELECT", "INSERT"},
}
ALL_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@pytest.fixture
def fresh_url() -> Iterator[str]:
    name = create_database()
    yield database_url_for(name)
    drop_database(name)


def names(url: str, query: str) -> set[str]:
    with psycopg.connect(url) as connection:
        return {row[0] for row in connection.execute(query)}


def tables(url: str) -> set[str]:
    return names(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")


def functions(url: str) -> set[str]:
    return names(
        url,
        "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
    )


def trigger_states(url: str) -> dict[str, str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal"
        ).fetchall()
    return {name: str(enabled) for name, enabled in rows}


def app_role_privileges(url: str) -> dict[str, set[str]]:
    with psycopg.connect(url) as connection:
        return {
            table: {
                privilege
                for privilege in ALL_PRIVILEGES
                if connection.execute(
                    "SELECT has_table_privilege(%s, %s, %s)", (APP_ROLE, table, privilege)
                ).fetchone()
                == (True,)
            }
            for table in APP_ROLE_PRIVILEGES
        }


def assert_at_head(url: str) -> None:
    assert tables(url) == SCHEMA_TABLES | {"alembic_version"}
    assert len(functions(url)) == FUNCTIONS_TOTAL
    states = trigger_states(url)
    assert len(states) == TRIGGERS_TOTAL
    # "A": enabled ALWAYS, so session_replication_role = replica cannot skip them.
    assert set(states.values()) == {"A"}
    with psycopg.connect(url) as connection:
        head = connection.execute("SELECT id, seq, hash FROM ledger_head").fetchall()
    assert head == [(1, 0, bytes(32))]
    assert app_role_privileges(url) == APP_ROLE_PRIVILEGES


def test_upgrade_downgrade_upgrade_round_trip(fresh_url: str) -> None:
    migrate(fresh_url)
    assert_at_head(fresh_url)
    migrate(fresh_url, "base", command="downgrade")
    assert tables(fresh_url) == {"alembic_version"}
    assert functions(fresh_url) == set()
    assert trigger_states(fresh_url) == {}
    migrate(fresh_url)
    assert_at_head(fresh_url)


def test_the_models_match_the_migrated_schema(fresh_url: str) -> None:
    migrate(fresh_url)
    engine = create_engine_for(fresh_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences: list[Any] = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []
    assert set(metadata.tables) == SCHEMA_TABLES


def test_downgrade_refuses_to_drop_a_ledger_that_holds_records(fresh_url: str) -> None:
    migrate(fresh_url)
    engine = create_engine_for(fresh_url)
    entry = capture_entry(
        payment_id="pay_1",
        merchant_id="mer_1",
        clearing_account=clearing_account("stripe", "usd"),
        amount=100,
        currency="usd",
    )
    append(engine, [entry])
    engine.dispose()
    downgrade = subprocess.run(
        [sys.executable, "-m", "alembic", "downgrade", "base"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": fresh_url},
        capture_output=True,
        text=True,
    )
    assert downgrade.returncode != 0
    assert "refusing to drop the ledger" in downgrade.stderr
    assert tables(fresh_url) >= LEDGER_TABLES
