"""Fresh databases on the machine's PostgreSQL server, named so a leftover is recognisably the
benchmark's (the server is shared with the test suite)."""

import secrets

import psycopg

from tests.conftest import ADMIN_DATABASE_URL, database_url_for

NAME_PREFIX = "paystream_bench_settle_"


def create_database() -> str:
    """A new, empty database; returns its URL."""
    name = f"{NAME_PREFIX}{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return database_url_for(name)


def drop_database(url: str) -> None:
    name = url.rpartition("/")[2]
    if not name.startswith(NAME_PREFIX):
        raise ValueError(f"{name} is not a settle benchmark database")
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
