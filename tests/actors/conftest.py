"""Fixtures for the Streams broker (a private queue per test, brokers and workers on it) and
for the actors (settings and a runtime on real Redis, a migrated ledger and the simulator)."""

import dataclasses
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
import redis

import app.settings
from actors.broker import StreamsBroker
from actors.runtime import Runtime
from app.keys import dead_key, delayed_key, delayed_messages_key, stream_key
from app.settings import Settings
from tests.conftest import create_database, database_url_for, drop_database, migrate
from tests.support.worker import PARTITIONS as WORKER_PARTITIONS
from tests.support.worker import build_runtime

PARTITIONS = 4
#: Small, so a silent consumer's entries become reclaimable within a test.
RECLAIM_IDLE_MS = 200
DELIVERIES_MAX = 3
#: How long a consumer or worker waits idle before it answers None, in ms.
IDLE_TIMEOUT_MS = 50
WORKER_STOP_TIMEOUT_MS = 10_000

BrokerFactory = Callable[..., StreamsBroker]
WorkerFactory = Callable[..., dramatiq.Worker]


@pytest.fixture
def queue_name(redis_client: redis.Redis) -> Iterator[str]:
    """A queue no other test uses; all of its keys are deleted afterwards."""
    name = f"t_{secrets.token_hex(6)}"
    yield name
    key_functions = (stream_key, delayed_key, delayed_messages_key, dead_key)
    redis_client.delete(*(key(p, name) for p in range(PARTITIONS) for key in key_functions))


@pytest.fixture
def make_broker(redis_client: redis.Redis) -> BrokerFactory:
    def make(consumer_name: str = "a", **overrides: Any) -> StreamsBroker:
        options: dict[str, Any] = {
            "client": redis_client,
            "partitions": PARTITIONS,
            "reclaim_idle_ms": RECLAIM_IDLE_MS,
            "deliveries_max": DELIVERIES_MAX,
            "consumer_name": consumer_name,
        }
        return StreamsBroker(**(options | overrides))

    return make


@pytest.fixture
def broker(make_broker: BrokerFactory) -> StreamsBroker:
    return make_broker()


@pytest.fixture
def start_worker() -> Iterator[WorkerFactory]:
    """Starts real Dramatiq workers and stops them all at the end of the test."""
    workers: list[dramatiq.Worker] = []

    def start(broker: StreamsBroker, threads: int = 2) -> dramatiq.Worker:
        worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=IDLE_TIMEOUT_MS)
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop(timeout=WORKER_STOP_TIMEOUT_MS)


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
    context.ledger.dispose()
