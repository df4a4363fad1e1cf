"""Shared fixtures: the real Redis and a freshly migrated, private PostgreSQL database."""

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.support.postgres_server import PostgresServer
from tests.support.processes import ROOT, Process, free_port, python_argv, wait_for_http
from tests.support.redis_server import RedisServer
from tests.support.simulator import FAULT_FREE, Simulator
from tests.support.stack import Stack, running_stack

pytest_plugins = ["tests.support.broker"]

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ADMIN_DATABASE_URL = os.environ.get(
    "TEST_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def database_url_for(name: str) -> str:
    base, _, _ = ADMIN_DATABASE_URL.rpartition("/")
    return f"{base}/{name}"


def migrate(database_url: str, target: str = "head", command: str = "upgrade") -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", command, target],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )


def create_database() -> str:
    name = f"paystream_test_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A private database migrated to head, dropped at the end of the session."""
    name = create_database()
    url = database_url_for(name)
    migrate(url)
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of the test's own, so it may fill, break or restart it freely."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of the test's own, so it may stop, crash or restart it freely."""
    server = PostgresServer()
    yield server
    server.cleanup()


@pytest.fixture
def fresh_database_url() -> Iterator[str]:
    """A private database of the test's own, migrated to head."""
    name = create_database()
    url = database_url_for(name)
    migrate(url)
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def simulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real simulator process for the session (seeded, so fault draws repeat)."""
    port = free_port()
    argv = python_argv("-m", "app.simulator", "--port", str(port), "--seed", "7")
    process = Process("simulator", argv, {}, tmp_path_factory.mktemp("simulator"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/healthz", process)
        yield url
    finally:
        process.stop()


@pytest.fixture
def simulator(simulator_url: str) -> Iterator[Simulator]:
    """The session's simulator, fault-free before and after the test."""
    controls = Simulator(simulator_url)
    controls.configure(**FAULT_FREE)
    yield controls
    controls.configure(**FAULT_FREE)


@pytest.fixture
def stack(private_redis: RedisServer, fresh_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Simulator, web and worker processes on a private Redis and a fresh database."""
    yield from running_stack(private_redis.url, fresh_database_url, tmp_path)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (marked ``anyio``) run on asyncio, as the worker does."""
    return "asyncio"
