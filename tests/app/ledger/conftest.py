"""Ledger fixtures: a fresh migrated database per test, cloned from a template.

The ledger refuses DELETE and TRUNCATE, so tests cannot clean up after themselves, and tamper
tests break the chain on purpose. Each test gets its own database instead: migrated once into a
template, then cloned (about 0.1 s) and dropped after the test.
"""

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from app.db import create_engine_for
from tests.conftest import (
    ADMIN_DATABASE_URL,
    create_database,
    database_url_for,
    drop_database,
    migrate,
)


@pytest.fixture(scope="session")
def ledger_template() -> Iterator[str]:
    name = create_database()
    migrate(database_url_for(name))
    yield name
    drop_database(name)


@pytest.fixture
def ledger_url(ledger_template: str) -> Iterator[str]:
    name = f"paystream_test_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{ledger_template}"')
    yield database_url_for(name)
    drop_database(name)


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = create_engine_for(ledger_url)
    yield engine
    engine.dispose()


@pytest.fixture
def superuser(ledger_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A direct autocommit connection, for what the application never does: tampering."""
    with psycopg.connect(ledger_url, autocommit=True) as connection:
        yield connection
