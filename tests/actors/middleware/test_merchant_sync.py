"""MerchantSync: a booting worker puts the merchants' key hashes back into Redis, and a
PostgreSQL that is down never keeps it from booting."""

import dataclasses
import logging
from collections.abc import Callable, Iterator

import dramatiq
import pytest
import redis

import app.settings
from actors.middleware.merchant_sync import MerchantSync
from actors.runtime import Runtime, build_runtime
from app.merchants import registry as merchants
from app.merchants.api_keys import hash_api_key
from app.queue.keys import AUTH_KEY
from tests.support.broker import BrokerFactory, WorkerFactory
from tests.support.worker import UNREACHABLE_DATABASE_URL

JOIN_TIMEOUT_MS = 20_000

RuntimeFactory = Callable[[str], Runtime]


@pytest.fixture
def make_runtime(redis_url: str, redis_client: redis.Redis) -> Iterator[RuntimeFactory]:
    """Runtimes on the test Redis and a given database, closed at the end of the test."""
    built: list[Runtime] = []

    def make(database_url: str) -> Runtime:
        settings = dataclasses.replace(
            app.settings.load(), redis_url=redis_url, database_url=database_url
        )
        context = build_runtime(settings, redis_client, database_url)
        built.append(context)
        return context

    yield make
    for context in built:
        for provider in context.providers.values():
            provider.close()
        context.database.dispose()


@pytest.fixture
def ledger_runtime(make_runtime: RuntimeFactory, fresh_database_url: str) -> Runtime:
    return make_runtime(fresh_database_url)


@pytest.fixture
def merchant(ledger_runtime: Runtime, redis_client: redis.Redis) -> Iterator[merchants.NewMerchant]:
    """A merchant in a fresh database; its key hash is removed from the shared auth hash after."""
    created = merchants.create(ledger_runtime.database, redis_client, "Ada's Books")
    yield created
    redis_client.hdel(AUTH_KEY, hash_api_key(created.api_key))


def test_a_booting_worker_puts_lost_merchant_keys_back(
    merchant: merchants.NewMerchant,
    ledger_runtime: Runtime,
    make_broker: BrokerFactory,
    redis_client: redis.Redis,
    start_worker: WorkerFactory,
) -> None:
    key_hash = hash_api_key(merchant.api_key)
    # What a Redis restarted without AOF, or flushed, has lost.
    redis_client.hdel(AUTH_KEY, key_hash)
    assert redis_client.hget(AUTH_KEY, key_hash) is None

    start_worker(make_broker(middleware=[MerchantSync(lambda: ledger_runtime)]))

    assert redis_client.hget(AUTH_KEY, key_hash) == merchant.merchant_id.encode()


def test_an_unreachable_database_is_a_warning_not_an_error(
    make_runtime: RuntimeFactory, make_broker: BrokerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    context = make_runtime(UNREACHABLE_DATABASE_URL)
    middleware = MerchantSync(lambda: context)
    broker = make_broker(middleware=[middleware])

    with caplog.at_level(logging.WARNING, logger="actors.middleware.merchant_sync"):
        middleware.after_worker_boot(broker, dramatiq.Worker(broker))

    assert caplog.messages == ["merchant sync at worker boot failed: OperationalError"]


def test_a_worker_without_postgres_still_boots_and_runs_messages(
    make_runtime: RuntimeFactory,
    make_broker: BrokerFactory,
    queue_name: str,
    start_worker: WorkerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    context = make_runtime(UNREACHABLE_DATABASE_URL)
    broker = make_broker(middleware=[MerchantSync(lambda: context)])
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
