"""Fixtures for the actors: settings and a runtime on real Redis, a migrated ledger and the
simulator. The broker's fixtures are in tests/support/broker.py."""

import dataclasses
from collections.abc import Iterator

import pytest
import redis

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


@pytest.fixture
def runtime(settings: Settings, redis_client: redis.Redis) -> Iterator[Runtime]:
    context = build_runtime(settings, redis_client, settings.database_url)
    yield context
    for provider in context.providers.values():
        provider.close()
    context.database.dispose()
