"""The application role may read and append, and the database refuses it any rewrite."""

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import Engine

from app.db import create_engine_for
from app.ledger import append, verify
from tests.app.ledger.support import captures, scalar
from tests.conftest import ADMIN_DATABASE_URL, database_url_for, drop_database

Connection = psycopg.Connection[Any]

APP_ROLE = "paystream_app"
APPEND_ONLY_TABLES = ["ledger_accounts", "ledger_transactions", "ledger_postings"]
UPDATES = {
    "ledger_accounts": "UPDATE ledger_accounts SET currency = 'eur'",
    "ledger_transactions": "UPDATE ledger_transactions SET reference = 'forged'",
    "ledger_postings": "UPDATE ledger_postings SET amount = amount + 1",
}


@pytest.fixture
def app_engine(ledger_url: str, engine: Engine) -> Iterator[Engine]:
    """The writer's engine, every session running as the application role."""
    append(engine, captures("before", 2))
    role_engine = create_engine_for(f"{ledger_url}?options=-c%20role%3D{APP_ROLE}")
    yield role_engine
    role_engine.dispose()


@pytest.fixture(scope="module")
def recorded_url(ledger_template: str) -> Iterator[str]:
    """One database for the refusals: a refused statement changes nothing."""
    name = f"paystream_test_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{ledger_template}"')
    url = database_url_for(name)
    engine = create_engine_for(url)
    append(engine, captures("recorded", 2))
    engine.dispose()
    yield url
    drop_database(name)


@pytest.fixture
def app_session(recorded_url: str) -> Iterator[Connection]:
    with psycopg.connect(recorded_url, autocommit=True) as connection:
        connection.execute(f"SET ROLE {APP_ROLE}")
        yield connection


def refused(session: Connection, statement: str) -> str:
    with pytest.raises(errors.InsufficientPrivilege) as raised:
        session.execute(statement)
    return str(raised.value)


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_update_is_refused_by_privilege(app_session: Connection, table: str) -> None:
    assert "permission denied" in refused(app_session, UPDATES[table])


@pytest.mark.parametrize("table", [*APPEND_ONLY_TABLES, "ledger_head"])
def test_delete_is_refused_by_privilege(app_session: Connection, table: str) -> None:
    assert "permission denied" in refused(app_session, f"DELETE FROM {table}")


@pytest.mark.parametrize("table", [*APPEND_ONLY_TABLES, "ledger_head"])
def test_truncate_is_refused_by_privilege(app_session: Connection, table: str) -> None:
    assert "permission denied" in refused(app_session, f"TRUNCATE {table}")


def test_the_role_may_not_disable_the_guards(app_session: Connection) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        app_session.execute("ALTER TABLE ledger_postings DISABLE TRIGGER ALL")


def test_the_role_appends_and_verifies(app_engine: Engine, superuser: Connection) -> None:
    with app_engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT current_user").scalar() == APP_ROLE
    recorded = append(app_engine, captures("as_app", 3))
    assert [item.seq for item in recorded] == [3, 4, 5]
    assert scalar(superuser, "SELECT count(*) FROM ledger_transactions") == 5
    report = verify(app_engine)
    assert report.ok and report.entries_checked == 5
