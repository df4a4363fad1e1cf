"""Fixtures for the Streams broker: a private queue name per test, brokers and workers on it."""

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
import redis

from actors.broker import StreamsBroker
from app.keys import dead_key, delayed_key, delayed_messages_key, stream_key

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
