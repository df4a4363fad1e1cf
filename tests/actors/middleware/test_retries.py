"""Deferral through the real broker and worker: waits that leave the retry budget untouched."""

import dramatiq
import pytest
import redis

from actors import worker_middleware
from actors.middleware.retries import DEFERRALS_MAX, DEFERRALS_OPTION, Defer
from app.queue.keys import dead_key
from tests.support.broker import PARTITIONS, BrokerFactory, WorkerFactory, in_kind

JOIN_TIMEOUT_MS = 20_000
#: Short, so a test's deferrals come round quickly.
DEFER_DELAY_MS = 20


def dead_total(client: redis.Redis, queue_name: str) -> int:
    return sum(int(client.xlen(dead_key(p, queue_name))) for p in range(PARTITIONS))


def test_deferrals_do_not_use_up_the_retry_budget(
    make_broker: BrokerFactory,
    redis_client: redis.Redis,
    queue_name: str,
    start_worker: WorkerFactory,
    actor_kind: str,
) -> None:
    broker = make_broker(middleware=worker_middleware())
    runs: list[int] = []

    @dramatiq.actor(broker=broker, queue_name=queue_name, max_retries=0)
    @in_kind(actor_kind)
    def patient(label: str) -> None:
        runs.append(len(runs))
        if len(runs) <= 5:
            raise Defer("not yet", delay=DEFER_DELAY_MS)

    start_worker(broker)
    patient.send("x")
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    assert runs == [0, 1, 2, 3, 4, 5]
    assert dead_total(redis_client, queue_name) == 0


def test_a_failure_still_uses_the_budget_and_is_dead_lettered(
    make_broker: BrokerFactory,
    redis_client: redis.Redis,
    queue_name: str,
    start_worker: WorkerFactory,
    actor_kind: str,
) -> None:
    broker = make_broker(middleware=worker_middleware())
    runs: list[str] = []

    @dramatiq.actor(broker=broker, queue_name=queue_name, max_retries=1, min_backoff=10)
    @in_kind(actor_kind)
    def failing(label: str) -> None:
        runs.append(label)
        raise dramatiq.Retry("a real failure", delay=DEFER_DELAY_MS)

    start_worker(broker)
    failing.send("x")
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    assert runs == ["x", "x"]
    assert dead_total(redis_client, queue_name) == 1


def test_past_the_deferral_bound_a_defer_counts_as_a_retry(
    make_broker: BrokerFactory,
    redis_client: redis.Redis,
    queue_name: str,
    start_worker: WorkerFactory,
    actor_kind: str,
) -> None:
    broker = make_broker(middleware=worker_middleware())
    runs: list[str] = []

    @dramatiq.actor(broker=broker, queue_name=queue_name, max_retries=0)
    @in_kind(actor_kind)
    def forever(label: str) -> None:
        runs.append(label)
        raise Defer("never ready", delay=DEFER_DELAY_MS)

    start_worker(broker)
    forever.send_with_options(args=("x",), **{DEFERRALS_OPTION: DEFERRALS_MAX})
    broker.join(queue_name, timeout=JOIN_TIMEOUT_MS)

    assert runs == ["x"]
    assert dead_total(redis_client, queue_name) == 1


@pytest.mark.parametrize(
    ("deferrals", "expected_ms"),
    [(0, 100), (1, 200), (3, 800), (4, 1000), (10_000, 1000)],
)
def test_a_growing_delay_doubles_up_to_its_cap(deferrals: int, expected_ms: int) -> None:
    assert Defer("wait", delay=100, delay_max=1000).delay_for(deferrals) == expected_ms


def test_a_fixed_delay_stays_fixed() -> None:
    assert Defer("wait", delay=250).delay_for(50) == 250
