"""Dramatiq's own middleware on the Streams broker, through real Redis and real workers:
TimeLimit, AgeLimit, Callbacks and Prometheus (Retries has its own module), for actors run by
Dramatiq's worker threads and for async actors run in flight alike."""

import asyncio
import time
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.middleware import prometheus
from prometheus_client import CollectorRegistry

from actors import worker_middleware
from actors.streams.broker import StreamsBroker
from app.queue.keys import dead_key
from tests.support.broker import BrokerFactory, WorkerFactory, in_kind

JOIN_TIMEOUT_MS = 20_000
#: The slow actor's limit; TimeLimit checks deadlines every second, so it fires within ~1.3 s.
TIME_LIMIT_MS = 300
#: How long the slow actor would run if nothing stopped it: well past its limit plus one check.
SLOW_RUN_MS = 4000
#: The slow actor sleeps in steps this short: the interrupt lands between bytecodes, never
#: inside a sleep, so one long sleep would outlast the limit.
SLOW_STEP_S = 0.01
#: A message older than this is expired; the test waits twice as long before any worker runs.
MAX_AGE_MS = 100
#: An age limit no message of the test can reach.
MAX_AGE_GENEROUS_MS = 60_000


def dead_messages(
    client: redis.Redis, broker: StreamsBroker, message: dramatiq.Message[Any]
) -> list[tuple[dramatiq.Message[Any], bytes]]:
    """The message's partition's dead letters, decoded, each with its reason."""
    key = dead_key(broker.partition_of(message), message.queue_name)
    return [
        (dramatiq.Message.decode(fields[b"m"]), fields[b"reason"])
        for _, fields in client.xrange(key)
    ]


def test_time_limit_interrupts_a_slow_actor_and_dead_letters_it(
    make_broker: BrokerFactory,
    redis_client: redis.Redis,
    queue_name: str,
    start_worker: WorkerFactory,
) -> None:
    broker = make_broker(middleware=worker_middleware())
    # What the dramatiq CLI does in each worker process: it starts TimeLimit's watchdog thread.
    broker.emit_after("process_boot")
    finished: list[bool] = []

    @dramatiq.actor(broker=broker, queue_name=queue_name, time_limit=TIME_LIMIT_MS, max_retries=0)
    def slow() -> None:
        deadline_s = time.monotonic() + SLOW_RUN_MS / 1000
        while time.monotonic() < deadline_s:
            time.sleep(SLOW_STEP_S)
        finished.append(True)

    start_worker(broker)
    sent = slow.send()
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    assert finished == []
    [(dead, reason)] = dead_messages(redis_client, broker, sent)
    assert dead.message_id == sent.message_id
    assert reason == b"rejected"
    assert "TimeLimitExceeded" in dead.options["traceback"]
    assert broker.unfinished_count(queue_name) == 0


def test_time_limit_cancels_a_slow_async_actor_and_dead_letters_it(
    make_broker: BrokerFactory,
    redis_client: redis.Redis,
    queue_name: str,
    start_worker: WorkerFactory,
) -> None:
    """In flight, the limit is an asyncio timeout: it lands at the actor's next await."""
    broker = make_broker(middleware=worker_middleware())
    broker.emit_after("process_boot")
    finished: list[bool] = []

    @dramatiq.actor(broker=broker, queue_name=queue_name, time_limit=TIME_LIMIT_MS, max_retries=0)
    async def slow() -> None:
        await asyncio.sleep(SLOW_RUN_MS / 1000)
        finished.append(True)

    start_worker(broker)
    sent = slow.send()
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    assert finished == []
    [(dead, reason)] = dead_messages(redis_client, broker, sent)
    assert dead.message_id == sent.message_id
    assert reason == b"rejected"
    assert "TimeLimitExceeded" in dead.options["traceback"]
    assert broker.unfinished_count(queue_name) == 0


def test_age_limit_skips_an_expired_message(
    make_broker: BrokerFactory,
    redis_client: redis.Redis,
    queue_name: str,
    start_worker: WorkerFactory,
    actor_kind: str,
) -> None:
    broker = make_broker(middleware=worker_middleware())
    runs: list[str] = []

    @dramatiq.actor(broker=broker, queue_name=queue_name)
    @in_kind(actor_kind)
    def dated(label: str) -> None:
        runs.append(label)

    expired = dated.send_with_options(args=("expired",), max_age=MAX_AGE_MS)
    dated.send_with_options(args=("fresh",), max_age=MAX_AGE_GENEROUS_MS)
    time.sleep(2 * MAX_AGE_MS / 1000)
    start_worker(broker)
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    assert runs == ["fresh"]
    # AgeLimit fails the message before it runs, so the worker rejects it: a dead letter.
    [(dead, reason)] = dead_messages(redis_client, broker, expired)
    assert dead.message_id == expired.message_id
    assert reason == b"rejected"
    assert broker.unfinished_count(queue_name) == 0


def test_callbacks_get_the_message_and_its_outcome(
    make_broker: BrokerFactory,
    queue_name: str,
    start_worker: WorkerFactory,
    actor_kind: str,
) -> None:
    broker = make_broker(middleware=worker_middleware())
    successes: list[tuple[dict[str, Any], Any]] = []
    failures: list[tuple[dict[str, Any], dict[str, str]]] = []

    @dramatiq.actor(broker=broker, queue_name=queue_name)
    def record_success(message_data: dict[str, Any], result: Any) -> None:
        successes.append((message_data, result))

    @dramatiq.actor(broker=broker, queue_name=queue_name)
    def record_failure(message_data: dict[str, Any], exception_data: dict[str, str]) -> None:
        failures.append((message_data, exception_data))

    @dramatiq.actor(
        broker=broker,
        queue_name=queue_name,
        max_retries=0,
        on_success=record_success.actor_name,
        on_failure=record_failure.actor_name,
    )
    @in_kind(actor_kind)
    def divide(dividend: int, divisor: int) -> int:
        return dividend // divisor

    start_worker(broker)
    succeeding = divide.send(7, 2)
    failing = divide.send(1, 0)
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    [(success_data, result)] = successes
    assert (success_data["message_id"], success_data["args"]) == (succeeding.message_id, [7, 2])
    assert result == 3
    [(failure_data, exception_data)] = failures
    assert (failure_data["message_id"], failure_data["args"]) == (failing.message_id, [1, 0])
    assert exception_data == {
        "type": "ZeroDivisionError",
        "message": "integer division or modulo by zero",
    }


def test_prometheus_counts_messages_and_errors_per_queue_and_actor(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_broker: BrokerFactory,
    queue_name: str,
    start_worker: WorkerFactory,
    actor_kind: str,
) -> None:
    # At process boot the middleware points prometheus_client's multiprocess directory, in this
    # process's environment, at its DB_PATH. Both go to the test's own directory, and the
    # variables are removed afterwards: processes started by later tests must not inherit them.
    monkeypatch.setattr(prometheus, "DB_PATH", str(tmp_path))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("prometheus_multiproc_dir", str(tmp_path))
    metrics = prometheus.Prometheus()
    broker = make_broker(middleware=[*worker_middleware(), metrics])
    # Creates the metrics, as the dramatiq CLI does; no exposition server: only its fork serves.
    broker.emit_after("process_boot")
    # The metrics live in a registry private to the middleware; a second one reads them.
    registry = CollectorRegistry()
    registry.register(metrics.total_messages)
    registry.register(metrics.total_errored_messages)

    @dramatiq.actor(broker=broker, queue_name=queue_name, max_retries=0)
    @in_kind(actor_kind)
    def tally(fail: bool) -> None:
        if fail:
            raise ValueError("refused")

    start_worker(broker)
    for fail in (False, False, False, True):
        tally.send(fail)
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    labels = {"queue_name": queue_name, "actor_name": "tally"}
    assert registry.get_sample_value("dramatiq_messages_total", labels) == 4
    assert registry.get_sample_value("dramatiq_message_errors_total", labels) == 1
