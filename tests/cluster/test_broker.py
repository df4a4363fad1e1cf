"""The Streams broker on a Redis Cluster: messages on every partition (spread over every
master) processed once, retries back through the delayed set, and an idle consumer woken by a
new message within its short per-partition block."""

import secrets
import threading
import time
from collections.abc import Iterator

import dramatiq
import pytest
import redis.asyncio.cluster
import redis.cluster

from actors.streams.broker import StreamsBroker
from actors.streams.consumer import CLUSTER_BLOCK_MS_MAX
from actors.streams.options import StreamOptions
from tests.support.broker import WORKER_STOP_TIMEOUT_MS
from tests.support.redis_cluster import RedisCluster

PARTITIONS = 8
MESSAGES = 40
JOIN_TIMEOUT_MS = 20_000
IDLE_TIMEOUT_MS = 50


@pytest.fixture
def cluster_broker(cluster: RedisCluster) -> Iterator[StreamsBroker]:
    broker = StreamsBroker(
        client=redis.cluster.RedisCluster.from_url(cluster.url),
        async_client=redis.asyncio.cluster.RedisCluster.from_url(cluster.url),
        options=StreamOptions(partitions=PARTITIONS, reclaim_idle_ms=2_000, deliveries_max=3),
        consumer_name="cluster",
    )
    yield broker
    broker.client.close()


def test_every_partition_is_read_and_retries_come_back(
    cluster_broker: StreamsBroker,
) -> None:
    queue_name = f"t_{secrets.token_hex(6)}"
    calls: list[int] = []
    lock = threading.Lock()

    @dramatiq.actor(broker=cluster_broker, queue_name=queue_name, min_backoff=100, max_backoff=200)
    def record(number: int) -> None:
        with lock:
            calls.append(number)
            first_try_of_zero = number == 0 and calls.count(0) == 1
        if first_try_of_zero:
            raise RuntimeError("first attempt fails")

    worker = dramatiq.Worker(cluster_broker, worker_threads=2, worker_timeout=IDLE_TIMEOUT_MS)
    worker.start()
    try:
        for number in range(MESSAGES):
            message = record.message_with_options(args=(number,), partition=number % PARTITIONS)
            cluster_broker.enqueue(message)
        cluster_broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)
    finally:
        worker.stop(timeout=WORKER_STOP_TIMEOUT_MS)

    assert sorted(calls) == [0, *range(MESSAGES)]
    assert cluster_broker.unfinished_count(queue_name) == 0


def test_an_idle_consumer_wakes_for_a_message_on_any_partition(
    cluster_broker: StreamsBroker,
) -> None:
    queue_name = f"t_{secrets.token_hex(6)}"
    cluster_broker.declare_queue(queue_name)
    consumer = cluster_broker.consume(queue_name, prefetch=1, timeout=5_000)
    next(consumer)  # The first call runs maintenance; the next ones only read and wait.
    message = dramatiq.Message(
        queue_name=queue_name, actor_name="probe", args=(), kwargs={}, options={"partition": 5}
    )
    sender = threading.Timer(0.2, cluster_broker.enqueue, args=(message,))
    sender.start()
    waited_s = time.monotonic()

    proxy = None
    while proxy is None and time.monotonic() - waited_s < 5:
        proxy = next(consumer)

    assert proxy is not None and proxy.message_id == message.message_id
    # Sent after 0.2 s; one more short block at most before it is seen, plus the reads.
    assert time.monotonic() - waited_s < 0.2 + CLUSTER_BLOCK_MS_MAX / 1000 + 0.5
    sender.join()
    consumer.close()
