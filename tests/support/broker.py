"""Fixtures for the Streams broker: a private queue per test, brokers and real Dramatiq workers
on it. A pytest plugin (see tests/conftest.py), so broker tests anywhere in the tree use them."""

import dataclasses
import functools
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
import redis
import redis.asyncio as aioredis

from actors.streams.broker import StreamsBroker
from actors.streams.options import StreamOptions
from app.queue.keys import dead_key, delayed_key, delayed_messages_key, stream_key

PARTITIONS = 4
#: Small, so a silent consumer's entries become reclaimable within a test.
RECLAIM_IDLE_MS = 200
DELIVERIES_MAX = 3
#: How long a consumer or worker waits idle before it answers None, in ms.
IDLE_TIMEOUT_MS = 50
WORKER_STOP_TIMEOUT_MS = 10_000

BrokerFactory = Callable[..., StreamsBroker]
OPTION_FIELDS = frozenset(field.name for field in dataclasses.fields(StreamOptions))
WorkerFactory = Callable[..., dramatiq.Worker]


@pytest.fixture
def queue_name(redis_client: redis.Redis) -> Iterator[str]:
    """A queue no other test uses; all of its keys are deleted afterwards."""
    name = f"t_{secrets.token_hex(6)}"
    yield name
    key_functions = (stream_key, delayed_key, delayed_messages_key, dead_key)
    redis_client.delete(*(key(p, name) for p in range(PARTITIONS) for key in key_functions))


@pytest.fixture
def make_broker(redis_client: redis.Redis, redis_url: str) -> BrokerFactory:
    """Brokers on the test Redis, each able to run async actors (its own async client)."""

    def make(consumer_name: str = "a", **overrides: Any) -> StreamsBroker:
        options: dict[str, Any] = {
            "partitions": PARTITIONS,
            "reclaim_idle_ms": RECLAIM_IDLE_MS,
            "deliveries_max": DELIVERIES_MAX,
        }
        options |= {name: value for name, value in overrides.items() if name in OPTION_FIELDS}
        arguments: dict[str, Any] = {
            "client": redis_client,
            "async_client": aioredis.Redis.from_url(redis_url),
            "consumer_name": consumer_name,
        }
        arguments |= {name: value for name, value in overrides.items() if name not in options}
        return StreamsBroker(options=StreamOptions(**options), **arguments)

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


def in_kind(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator making a function an actor body of ``kind``: run by Dramatiq's worker
    threads ("threads"), or an ``async def`` run by the broker's in-flight loop ("in flight")."""

    def decorate(body: Callable[..., Any]) -> Callable[..., Any]:
        if kind == "threads":
            return body

        @functools.wraps(body)
        async def in_flight(*args: Any, **kwargs: Any) -> Any:
            return body(*args, **kwargs)

        return in_flight

    return decorate


@pytest.fixture(params=["threads", "in flight"])
def actor_kind(request: pytest.FixtureRequest) -> str:
    """Both ways a message runs, for tests of the middleware contract both must keep."""
    return str(request.param)
