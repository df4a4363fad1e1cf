"""Fixtures for the actors: settings and a runtime on real Redis, a migrated ledger and the
simulator. The broker's fixtures are in tests/support/broker.py."""

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis.asyncio as aioredis

import app.settings
from actors.runtime import Runtime, build_runtime
from app.settings import Settings
from tests.conftest import create_database, database_url_for, drop_database, migrate
from tests.support.worker import PARTITIONS as WORKER_PARTITIONS


@pytest.fixture(scope="module")
def ledger_url() -> Iterator[str]:
    name = create_database()
    url = database_url_for(name)
    migrate(url)
    yield url
    drop_database(name)


@pytest.fixture
def settings(simulator_url: str, redis_url: str, ledger_url: str) -> Settings:
    return dataclasses.replace(
        app.settings.load(),
        redis_url=redis_url,
        database_url=ledger_url,
        stripe_api_base=simulator_url,
        paystack_api_base=simulator_url,
        stream_partitions=WORKER_PARTITIONS,
        provider_timeout_s=5.0,
    )


RuntimeFactory = Callable[..., Runtime]


@pytest.fixture
async def make_runtime() -> AsyncIterator[RuntimeFactory]:
    """Worker runtimes on the test's event loop (async tests are marked ``anyio``), with the
    given settings and database (the settings' by default), closed after the test."""
    built: list[Runtime] = []

    def make(settings: Settings, database_url: str | None = None) -> Runtime:
        client = aioredis.Redis.from_url(settings.redis_url)
        built.append(build_runtime(settings, client, database_url or settings.database_url))
        return built[-1]

    yield make
    for context in built:
        await context.aclose()


@pytest.fixture
def runtime(settings: Settings, make_runtime: RuntimeFactory) -> Runtime:
    return make_runtime(settings)
