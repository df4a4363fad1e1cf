"""The Streams broker against the real Redis: delivery, acks, delays, reclaim, dead letters."""

import dataclasses
import threading
import time
import zlib
from typing import Any, cast

import dramatiq
import pytest
import redis
from dramatiq.errors import ConnectionClosed, QueueJoinTimeout, QueueNotFound
from dramatiq.middleware import Middleware
from redis.backoff import NoBackoff
from redis.retry import Retry

from actors.streams import maintenance
from actors.streams.broker import StreamsBroker
from actors.streams.consumer import StreamsConsumer
from actors.streams.delivery import StreamMessageProxy
from actors.streams.scripts import register_scripts
from app.queue.keys import CONSUMER_GROUP, dead_key, delayed_key, delayed_messages_key, stream_key
from tests.support.broker import (
    IDLE_TIMEOUT_MS,
    PARTITIONS,
    RECLAIM_IDLE_MS,
    WORKER_STOP_TIMEOUT_MS,
    BrokerFactory,
    WorkerFactory,
)
from tests.support.redis_server import RedisServer

#: Long enough for every test's messages to come through; a failure, never a normal wait.
DELIVERY_TIMEOUT_S = 10.0
JOIN_TIMEOUT_MS = 20_000
#: An entry left this long by a silent consumer is reclaimable.
SILENCE_S = RECLAIM_IDLE_MS / 1000 + 0.1


def unreachable_client() -> redis.Redis:
    """A client whose every command fails at once with a connection error."""
    return redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )


def probe(queue_name: str, *args: Any, partition: int | None = None) -> dramatiq.Message:
    options = {} if partition is None else {"partition": partition}
    return dramatiq.Message(
        queue_name=queue_name, actor_name="probe", args=args, kwargs={}, options=options
    )


def drain(consumer: StreamsConsumer, count: int) -> list[StreamMessageProxy]:
    """The next ``count`` messages, or fewer if they do not come in time."""
    proxies: list[StreamMessageProxy] = []
    deadline_s = time.monotonic() + DELIVERY_TIMEOUT_S
    while len(proxies) < count and time.monotonic() < deadline_s:
        proxy = next(consumer)
        if proxy is not None:
            proxies.append(proxy)
    return proxies


def delivered_within(consumer: StreamsConsumer, duration_s: float) -> list[StreamMessageProxy]:
    proxies: list[StreamMessageProxy] = []
    deadline_s = time.monotonic() + duration_s
    while time.monotonic() < deadline_s:
        proxy = next(consumer)
        if proxy is not None:
            proxies.append(proxy)
    return proxies


def stream_lengths(client: redis.Redis, queue_name: str) -> list[int]:
    return [client.xlen(stream_key(partition, queue_name)) for partition in range(PARTITIONS)]


def pending_total(client: redis.Redis, queue_name: str) -> int:
    return sum(
        client.xpending(stream_key(partition, queue_name), CONSUMER_GROUP)["pending"]
        for partition in range(PARTITIONS)
    )


def entries(client: redis.Redis, key: str) -> list[dict[bytes, bytes]]:
    """The fields of every entry of a stream, oldest first."""
    return [
        fields for _, fields in cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(key))
    ]


def dead_letters(client: redis.Redis, queue_name: str, partition: int) -> list[dict[bytes, bytes]]:
    return entries(client, dead_key(partition, queue_name))


def test_ack_deletes_the_entry(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    broker.declare_queue(queue_name)
    sent = broker.enqueue(probe(queue_name, 1, partition=1))
    consumer = broker.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS)

    [proxy] = drain(consumer, 1)
    assert proxy.message_id == sent.message_id
    assert pending_total(redis_client, queue_name) == 1

    consumer.ack(proxy)
    assert stream_lengths(redis_client, queue_name) == [0] * PARTITIONS
    assert pending_total(redis_client, queue_name) == 0


def test_declare_queue_does_no_redis_io(make_broker: BrokerFactory, queue_name: str) -> None:
    unreachable = unreachable_client()
    broker = make_broker(client=unreachable)

    broker.declare_queue(queue_name)

    assert broker.get_declared_queues() == {queue_name}
    assert broker.get_declared_delay_queues() == set()


def test_entries_added_before_any_group_are_delivered(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    # What the web process does from its accept script, possibly before any worker started.
    early = probe(queue_name, "early", partition=2)
    redis_client.xadd(stream_key(2, queue_name), {"m": early.encode()})

    broker.declare_queue(queue_name)
    consumer = broker.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS)

    [proxy] = drain(consumer, 1)
    assert proxy.message_id == early.message_id
    assert proxy.args == ("early",)


def test_prefetch_is_honoured(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    broker.declare_queue(queue_name)
    for number in range(6):
        broker.enqueue(probe(queue_name, number))
    consumer = broker.consume(queue_name, prefetch=2, timeout=IDLE_TIMEOUT_MS)

    first, second = drain(consumer, 2)
    assert delivered_within(consumer, 0.3) == []
    assert pending_total(redis_client, queue_name) == 2

    consumer.ack(first)
    assert len(drain(consumer, 1)) == 1
    assert pending_total(redis_client, queue_name) == 2


def test_a_waiting_consumer_wakes_for_a_new_message(broker: StreamsBroker, queue_name: str) -> None:
    broker.declare_queue(queue_name)
    consumer = broker.consume(queue_name, prefetch=1, timeout=5_000)
    next(consumer)  # The first call runs maintenance; the next one only waits.
    sender = threading.Timer(0.2, broker.enqueue, args=(probe(queue_name, partition=3),))
    sender.start()
    waited_s = time.monotonic()

    proxy = next(consumer)

    assert proxy is not None
    assert time.monotonic() - waited_s < 1.0
    sender.join()


def test_a_delayed_message_comes_once_after_its_delay(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    broker.declare_queue(queue_name)
    consumer = broker.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS)
    delay_ms = 600
    sent_s = time.monotonic()
    sent = broker.enqueue(probe(queue_name, partition=3), delay=delay_ms)
    assert redis_client.zcard(delayed_key(3, queue_name)) == 1
    assert stream_lengths(redis_client, queue_name) == [0] * PARTITIONS

    [proxy] = drain(consumer, 1)
    assert time.monotonic() - sent_s >= delay_ms / 1000
    assert proxy.message_id == sent.message_id
    # The eta is delay bookkeeping: left on the message, the worker would delay it again.
    assert "eta" in sent.options and "eta" not in proxy.options
    consumer.ack(proxy)
    assert redis_client.zcard(delayed_key(3, queue_name)) == 0
    assert redis_client.hlen(delayed_messages_key(3, queue_name)) == 0
    assert delivered_within(consumer, 1.2) == []


def test_the_mover_empties_every_partitions_backlog_in_batches(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    """More due on one partition than one move takes, a few on another: all moved, once."""
    counts = {0: maintenance.MOVE_BATCH_MAX + 5, 1: 3}
    for partition, count in counts.items():
        for index in range(count):
            broker.enqueue(probe(queue_name, index, partition=partition), delay=1)
    time.sleep(0.01)

    assert maintenance.move_due(broker.client, broker.scripts, queue_name, PARTITIONS) == 108

    for partition, count in counts.items():
        assert redis_client.zcard(delayed_key(partition, queue_name)) == 0
        assert len(entries(redis_client, stream_key(partition, queue_name))) == count


def test_the_mover_moves_due_messages_atomically(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    due = broker.enqueue(probe(queue_name, "due", partition=0), delay=1)
    later = broker.enqueue(probe(queue_name, "later", partition=0), delay=60_000)
    time.sleep(0.01)

    assert maintenance.move_due(broker.client, broker.scripts, queue_name, PARTITIONS) == 1

    assert redis_client.zrange(delayed_key(0, queue_name), 0, -1) == [later.message_id.encode()]
    assert redis_client.hkeys(delayed_messages_key(0, queue_name)) == [later.message_id.encode()]
    [fields] = entries(redis_client, stream_key(0, queue_name))
    assert dramatiq.Message.decode(fields[b"m"]).message_id == due.message_id


def test_scheduling_a_message_again_keeps_one_copy(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    message = probe(queue_name, partition=1)

    broker.enqueue(message, delay=60_000)
    broker.enqueue(message, delay=60_000)

    assert redis_client.zcard(delayed_key(1, queue_name)) == 1
    assert redis_client.hlen(delayed_messages_key(1, queue_name)) == 1


class DelayedEnqueues(Middleware):
    """Records, for each delayed enqueue, whether the message then sat in the delayed set."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.in_delayed_set: list[bool] = []

    def after_enqueue(self, broker: Any, message: Any, delay: int | None) -> None:
        if delay is not None:
            key = delayed_key(broker.partition_of(message), message.queue_name)
            self.in_delayed_set.append(self.client.zscore(key, message.message_id) is not None)


def test_retries_come_back_through_the_delayed_set(
    broker: StreamsBroker,
    redis_client: redis.Redis,
    queue_name: str,
    start_worker: WorkerFactory,
) -> None:
    spy = DelayedEnqueues(redis_client)
    broker.add_middleware(spy)
    calls: list[int] = []

    @dramatiq.actor(broker=broker, queue_name=queue_name, min_backoff=100, max_backoff=200)
    def flaky(number: int) -> None:
        calls.append(number)
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")

    start_worker(broker)
    flaky.send(7)
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    assert calls == [7, 7]
    assert spy.in_delayed_set == [True]
    assert broker.unfinished_count(queue_name) == 0


def test_a_silent_consumers_entry_is_reclaimed_and_run_once(
    make_broker: BrokerFactory,
    redis_client: redis.Redis,
    queue_name: str,
    start_worker: WorkerFactory,
) -> None:
    silent = make_broker("a")
    silent.declare_queue(queue_name)
    rescuer = make_broker("b")
    calls: list[str] = []

    @dramatiq.actor(broker=rescuer, queue_name=queue_name)
    def work(label: str) -> None:
        calls.append(label)

    work.send("orphan")
    assert len(drain(silent.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS), 1)) == 1
    time.sleep(SILENCE_S)

    start_worker(rescuer)
    rescuer.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    assert calls == ["orphan"]
    assert pending_total(redis_client, queue_name) == 0


def test_an_entry_delivered_too_often_is_dead_lettered(
    make_broker: BrokerFactory, redis_client: redis.Redis, queue_name: str
) -> None:
    silent = make_broker("a")
    silent.declare_queue(queue_name)
    sent = silent.enqueue(probe(queue_name, partition=2))
    drain(silent.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS), 1)
    time.sleep(SILENCE_S)
    rescuer = make_broker("b", deliveries_max=1)
    rescuer.declare_queue(queue_name)

    assert (
        delivered_within(rescuer.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS), 0.2)
        == []
    )

    [dead] = dead_letters(redis_client, queue_name, 2)
    assert dead[b"m"] == sent.encode()
    assert dead[b"reason"] == b"deliveries_exceeded"
    assert dead[b"deliveries"] == b"2"
    assert stream_lengths(redis_client, queue_name) == [0] * PARTITIONS
    assert pending_total(redis_client, queue_name) == 0


def test_reclaim_acks_away_an_entry_whose_payload_was_deleted(
    make_broker: BrokerFactory, redis_client: redis.Redis, queue_name: str
) -> None:
    silent = make_broker("a")
    silent.declare_queue(queue_name)
    silent.enqueue(probe(queue_name, partition=0))
    [proxy] = drain(silent.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS), 1)
    redis_client.xdel(proxy.stream_entry.stream_key, proxy.stream_entry.entry_id)
    time.sleep(SILENCE_S)
    rescuer = make_broker("b")
    rescuer.declare_queue(queue_name)

    assert (
        delivered_within(rescuer.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS), 0.2)
        == []
    )

    assert pending_total(redis_client, queue_name) == 0
    assert dead_letters(redis_client, queue_name, 0) == []


def test_a_live_consumer_keeps_its_entries(
    make_broker: BrokerFactory, redis_client: redis.Redis, queue_name: str
) -> None:
    holder = make_broker("a")
    holder.declare_queue(queue_name)
    holder.enqueue(probe(queue_name, partition=1))
    holding = holder.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS)
    [proxy] = drain(holding, 1)
    # Still running the message, well past the reclaim idle time, and alive: it renews.
    delivered_within(holding, 3 * RECLAIM_IDLE_MS / 1000)
    rescuer = make_broker("b")
    rescuer.declare_queue(queue_name)

    assert (
        delivered_within(rescuer.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS), 0.2)
        == []
    )

    [pending] = redis_client.xpending_range(
        proxy.stream_entry.stream_key, CONSUMER_GROUP, min="-", max="+", count=10
    )
    assert pending["consumer"] == b"a"
    assert pending["times_delivered"] == 1


def test_reclaim_runs_while_prefetch_is_full(
    make_broker: BrokerFactory,
    redis_client: redis.Redis,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("actors.streams.consumer.RECLAIM_INTERVAL_MS", 100)
    silent = make_broker("a")
    silent.declare_queue(queue_name)
    orphan = silent.enqueue(probe(queue_name, "orphan", partition=0))
    drain(silent.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS), 1)
    busy = make_broker("b")
    busy.declare_queue(queue_name)
    busy.enqueue(probe(queue_name, "own", partition=0))
    consumer = busy.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS)
    [own] = drain(consumer, 1)
    assert own.args == ("own",)
    time.sleep(SILENCE_S)

    [reclaimed] = drain(consumer, 1)

    assert reclaimed.message_id == orphan.message_id


def test_nack_moves_the_message_to_the_dead_stream_once(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    broker.declare_queue(queue_name)
    sent = broker.enqueue(probe(queue_name, partition=3))
    consumer = broker.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS)
    [proxy] = drain(consumer, 1)

    consumer.nack(proxy)
    consumer.nack(proxy)

    [dead] = dead_letters(redis_client, queue_name, 3)
    assert dramatiq.Message.decode(dead[b"m"]).message_id == sent.message_id
    assert dead[b"reason"] == b"rejected"
    assert dead[b"deliveries"] == b"1"
    assert dead[b"consumer"] == b"a"
    assert stream_lengths(redis_client, queue_name) == [0] * PARTITIONS
    assert pending_total(redis_client, queue_name) == 0


def test_an_undecodable_entry_is_dead_lettered(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    redis_client.xadd(stream_key(1, queue_name), {"m": b"not a message"})
    broker.declare_queue(queue_name)

    assert (
        delivered_within(broker.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS), 0.2) == []
    )

    [dead] = dead_letters(redis_client, queue_name, 1)
    assert dead[b"m"] == b"not a message"
    assert dead[b"reason"] == b"undecodable"
    assert pending_total(redis_client, queue_name) == 0


def test_requeue_hands_the_message_to_another_consumer(
    make_broker: BrokerFactory, redis_client: redis.Redis, queue_name: str
) -> None:
    leaving = make_broker("a")
    leaving.declare_queue(queue_name)
    sent = leaving.enqueue(probe(queue_name, partition=2))
    leaving_consumer = leaving.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS)
    [proxy] = drain(leaving_consumer, 1)

    leaving_consumer.requeue([proxy])
    assert stream_lengths(redis_client, queue_name)[2] == 1
    assert pending_total(redis_client, queue_name) == 0

    taking = make_broker("b")
    taking.declare_queue(queue_name)
    taking_consumer = taking.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS)
    [taken] = drain(taking_consumer, 1)
    assert taken.message_id == sent.message_id
    taking_consumer.ack(taken)
    assert stream_lengths(redis_client, queue_name) == [0] * PARTITIONS


def test_close_gives_back_the_buffered_messages(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    broker.declare_queue(queue_name)
    for number in range(3):
        broker.enqueue(probe(queue_name, number, partition=0))
    consumer = broker.consume(queue_name, prefetch=5, timeout=IDLE_TIMEOUT_MS)
    [handed_out] = drain(consumer, 1)

    consumer.close()

    assert stream_lengths(redis_client, queue_name)[0] == 3
    assert pending_total(redis_client, queue_name) == 1
    assert broker.leases(queue_name).count() == 1
    consumer.ack(handed_out)
    assert broker.leases(queue_name).count() == 0


def test_stopping_a_worker_gives_back_its_prefetched_messages(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    started = threading.Event()
    calls: list[int] = []

    @dramatiq.actor(broker=broker, queue_name=queue_name)
    def slow(number: int) -> None:
        calls.append(number)
        started.set()
        time.sleep(0.3)

    for number in range(3):
        slow.send_with_options(args=(number,), partition=0)
    # One thread prefetches two: one runs, one waits in the worker's queue.
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=IDLE_TIMEOUT_MS)
    worker.start()
    assert started.wait(DELIVERY_TIMEOUT_S)

    worker.stop(timeout=WORKER_STOP_TIMEOUT_MS)

    assert calls == [0]
    assert stream_lengths(redis_client, queue_name)[0] == 2
    assert pending_total(redis_client, queue_name) == 0


def test_concurrent_acks_settle_every_message_once(
    make_broker: BrokerFactory,
    redis_client: redis.Redis,
    queue_name: str,
    start_worker: WorkerFactory,
) -> None:
    broker = make_broker(reclaim_idle_ms=30_000)
    seen: list[int] = []
    seen_lock = threading.Lock()

    @dramatiq.actor(broker=broker, queue_name=queue_name)
    def record(number: int) -> None:
        with seen_lock:
            seen.append(number)

    for number in range(500):
        record.send(number)
    start_worker(broker, threads=8)
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    assert sorted(seen) == list(range(500))
    assert stream_lengths(redis_client, queue_name) == [0] * PARTITIONS
    assert pending_total(redis_client, queue_name) == 0
    assert broker.leases(queue_name).count() == 0


def test_the_partition_option_is_honoured(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    broker.enqueue(probe(queue_name, partition=2))
    broker.enqueue(probe(queue_name, partition=2), delay=60_000)

    assert stream_lengths(redis_client, queue_name) == [0, 0, 1, 0]
    assert redis_client.zcard(delayed_key(2, queue_name)) == 1


def test_messages_without_a_partition_spread_by_id(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    sent = [broker.enqueue(probe(queue_name, number)) for number in range(64)]

    for partition in range(PARTITIONS):
        expected = {
            message.message_id
            for message in sent
            if zlib.crc32(message.message_id.encode()) % PARTITIONS == partition
        }
        stored = {
            dramatiq.Message.decode(fields[b"m"]).message_id
            for fields in entries(redis_client, stream_key(partition, queue_name))
        }
        assert stored == expected
        assert stored


def test_a_partition_outside_the_range_is_refused(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    with pytest.raises(ValueError, match="partition"):
        broker.enqueue(probe(queue_name, partition=PARTITIONS))
    assert stream_lengths(redis_client, queue_name) == [0] * PARTITIONS


@pytest.mark.parametrize(
    "overrides",
    [
        {"partitions": 0},
        {"partitions": 257},
        {"reclaim_idle_ms": 0},
        {"deliveries_max": 0},
        {"read_count_max": 0},
        {"block_ms": 0},
        {"consumer_name": ""},
        {"client": redis.Redis(decode_responses=True)},
    ],
)
def test_the_constructor_refuses_bad_settings(
    make_broker: BrokerFactory, overrides: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        make_broker(**overrides)


def test_undeclared_queues_are_refused(broker: StreamsBroker, queue_name: str) -> None:
    with pytest.raises(QueueNotFound):
        broker.consume(queue_name)
    with pytest.raises(QueueNotFound):
        broker.join(queue_name)


def test_join_times_out_while_work_is_left(broker: StreamsBroker, queue_name: str) -> None:
    broker.declare_queue(queue_name)
    broker.enqueue(probe(queue_name))

    with pytest.raises(QueueJoinTimeout):
        broker.join(queue_name, timeout=200)


def test_flush_empties_the_queue_and_consumers_carry_on(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    broker.declare_queue(queue_name)
    consumer = broker.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS)
    broker.enqueue(probe(queue_name))
    broker.enqueue(probe(queue_name), delay=60_000)

    broker.flush_all()
    assert broker.unfinished_count(queue_name) == 0

    sent = broker.enqueue(probe(queue_name))
    [proxy] = drain(consumer, 1)
    assert proxy.message_id == sent.message_id


def test_a_retry_that_cannot_be_stored_leaves_the_entry_pending(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str
) -> None:
    broker.declare_queue(queue_name)
    broker.enqueue(probe(queue_name, partition=0))
    consumer = broker.consume(queue_name, prefetch=1, timeout=IDLE_TIMEOUT_MS)
    [proxy] = drain(consumer, 1)
    unreachable = unreachable_client()
    working_scripts = broker.scripts
    broker.scripts = dataclasses.replace(
        working_scripts, schedule=register_scripts(unreachable).schedule
    )

    # What Retries does after a failure: enqueue the retry, then the worker acks the original.
    with pytest.raises(ConnectionClosed):
        broker.enqueue(cast(dramatiq.Message[Any], proxy), delay=100)
    broker.scripts = working_scripts
    consumer.ack(proxy)

    assert pending_total(redis_client, queue_name) == 1
    assert stream_lengths(redis_client, queue_name)[0] == 1
    assert broker.leases(queue_name).count() == 0


def test_connection_errors_raise_connection_closed(
    make_broker: BrokerFactory, private_redis: RedisServer, queue_name: str
) -> None:
    client = redis.Redis.from_url(
        private_redis.url, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    broker = make_broker(client=client)
    broker.declare_queue(queue_name)
    broker.enqueue(probe(queue_name, partition=0))
    consumer = broker.consume(queue_name, prefetch=2, timeout=IDLE_TIMEOUT_MS)
    [proxy] = drain(consumer, 1)
    private_redis.stop()

    with pytest.raises(ConnectionClosed):
        next(consumer)
    with pytest.raises(ConnectionClosed):
        consumer.ack(proxy)
    # The worker retries a failed ack; until then the message is still held.
    assert broker.leases(queue_name).count() == 1
    with pytest.raises(ConnectionClosed):
        broker.consume(queue_name)
