"""MerchantSync: a booting worker puts the merchants' key hashes back into Redis, and a
PostgreSQL that is down never keeps it from booting."""

import logging
from collections.abc import Iterator

import dramatiq
import pytest
import redis
from sqlalchemy import Engine

from actors.middleware.merchant_sync import MerchantSync
from app.db import create_engine_for
from app.merchants import registry as merchants
from app.merchants.api_keys import hash_api_key
from app.queue.keys import AUTH_KEY
from tests.support.broker import BrokerFactory, WorkerFactory
from tests.support.worker import UNREACHABLE_DATABASE_URL

JOIN_TIMEOUT_MS = 20_000


@pytest.fixture
def engine(fresh_database_url: str) -> Iterator[Engine]:
    engine = create_engine_for(fresh_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def merchant(engine: Engine, redis_client: redis.Redis) -> Iterator[merchants.NewMerchant]:
    """A merchant in a fresh database; its key hash is removed from the shared auth hash after."""
    created = merchants.create(engine, redis_client, "Ada's Books")
    yield created
    redis_client.hdel(AUTH_KEY, hash_api_key(created.api_key))


def test_a_booting_worker_puts_lost_merchant_keys_back(
    merchant: merchants.NewMerchant,
    fresh_database_url: str,
    make_broker: BrokerFactory,
    redis_client: redis.Redis,
    start_worker: WorkerFactory,
) -> None:
    key_hash = hash_api_key(merchant.api_key)
    # What a Redis restarted without AOF, or flushed, has lost.
    redis_client.hdel(AUTH_KEY, key_hash)
    assert redis_client.hget(AUTH_KEY, key_hash) is None

    start_worker(make_broker(middleware=[MerchantSync(fresh_database_url)]))

    assert redis_client.hget(AUTH_KEY, key_hash) == merchant.merchant_id.encode()


def test_an_unreachable_database_is_a_warning_not_an_error(
    make_broker: BrokerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    middleware = MerchantSync(UNREACHABLE_DATABASE_URL)
    broker = make_broker(middleware=[middleware])

    with caplog.at_level(logging.WARNING, logger="actors.middleware.merchant_sync"):
        middleware.after_worker_boot(broker, dramatiq.Worker(broker))

    assert caplog.messages == ["merchant sync at worker boot failed: OperationalError"]


def test_a_worker_without_postgres_still_boots_and_runs_messages(
    make_broker: BrokerFactory,
    queue_name: str,
    start_worker: WorkerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = make_broker(middleware=[MerchantSync(UNREACHABLE_DATABASE_URL)])
    runs: list[str] = []

    @dramatiq.actor(broker=broker, queue_name=queue_name)
    def payment_step(label: str) -> None:
        runs.append(label)

    with caplog.at_level(logging.WARNING):
        start_worker(broker)
    payment_step.send("x")
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    assert runs == ["x"]
    # Handled by the middleware itself, not swallowed by Dramatiq as a critical hook failure.
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
