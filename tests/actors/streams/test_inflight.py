"""Async actors run in flight on the Streams broker, through real Redis and real workers: many
at once, never more than the concurrency allows, and handed back when a worker stops."""

import asyncio
import time

import dramatiq
import redis

from app.queue.keys import CONSUMER_GROUP, stream_key
from tests.support.broker import PARTITIONS, BrokerFactory, WorkerFactory

JOIN_TIMEOUT_MS = 30_000
MESSAGES = 300
#: Long enough that every message is still running when the last one starts.
HOLD_S = 1.0
SMALL_CONCURRENCY = 20
#: Messages that outlast a stopping worker's grace by far.
STUCK_S = 30.0
SHORT_GRACE_MS = 200
STUCK_MESSAGES = 10
WAIT_STEP_S = 0.01
WAIT_STEPS_MAX = 2_000


class Gauge:
    """How many actor runs are inside their body now, and the most there ever were."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.started: list[int] = []
        self.finished: list[int] = []

    def enter(self, label: int) -> None:
        self.started.append(label)
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self, label: int) -> None:
        self.now -= 1
        self.finished.append(label)


def pending(client: redis.Redis, queue_name: str) -> int:
    summaries = [
        client.xpending(stream_key(partition, queue_name), CONSUMER_GROUP)
        for partition in range(PARTITIONS)
    ]
    return sum(int(summary["pending"]) for summary in summaries)


def test_hundreds_of_async_messages_run_at_once(
    make_broker: BrokerFactory, queue_name: str, start_worker: WorkerFactory
) -> None:
    broker = make_broker(concurrency=MESSAGES)
    gauge = Gauge()

    @dramatiq.actor(broker=broker, queue_name=queue_name)
    async def held(label: int) -> None:
        gauge.enter(label)
        await asyncio.sleep(HOLD_S)
        gauge.leave(label)

    for label in range(MESSAGES):
        held.send(label)
    start_worker(broker, threads=1)
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    assert sorted(gauge.finished) == list(range(MESSAGES))
    # One worker thread, yet nearly every message ran at the same moment.
    assert gauge.peak > MESSAGES // 2


def test_the_concurrency_bounds_the_messages_in_flight(
    make_broker: BrokerFactory, queue_name: str, start_worker: WorkerFactory
) -> None:
    broker = make_broker(concurrency=SMALL_CONCURRENCY)
    gauge = Gauge()

    @dramatiq.actor(broker=broker, queue_name=queue_name)
    async def held(label: int) -> None:
        gauge.enter(label)
        await asyncio.sleep(HOLD_S / 10)
        gauge.leave(label)

    for label in range(SMALL_CONCURRENCY * 5):
        held.send(label)
    start_worker(broker, threads=1)
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    assert sorted(gauge.finished) == list(range(SMALL_CONCURRENCY * 5))
    assert gauge.peak == SMALL_CONCURRENCY


def test_a_stopping_worker_hands_back_what_outlasts_its_grace(
    make_broker: BrokerFactory,
    redis_client: redis.Redis,
    queue_name: str,
    start_worker: WorkerFactory,
) -> None:
    stopping = make_broker("a", shutdown_grace_ms=SHORT_GRACE_MS)
    taking_over = make_broker("b")
    gauge = Gauge()
    stuck = {"a": True, "b": False}

    def declare(broker: dramatiq.Broker, name: str) -> dramatiq.Actor[[int], None]:
        @dramatiq.actor(broker=broker, queue_name=queue_name, actor_name="slow")
        async def slow(label: int) -> None:
            gauge.enter(label)
            await asyncio.sleep(STUCK_S if stuck[name] else 0)
            gauge.leave(label)

        return slow

    slow = declare(stopping, "a")
    declare(taking_over, "b")
    for label in range(STUCK_MESSAGES):
        slow.send(label)
    worker = start_worker(stopping, threads=1)
    for _ in range(WAIT_STEPS_MAX):
        if gauge.now == STUCK_MESSAGES:
            break
        time.sleep(WAIT_STEP_S)  # polls the condition above, bounded by WAIT_STEPS_MAX

    worker.stop()

    assert gauge.now == STUCK_MESSAGES, "cut off, never finished"
    assert pending(redis_client, queue_name) == 0, "handed back, not left pending"
    start_worker(taking_over, threads=1)
    taking_over.join(queue_name, timeout=JOIN_TIMEOUT_MS)
    assert sorted(gauge.finished) == list(range(STUCK_MESSAGES))
