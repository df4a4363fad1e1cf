"""One test per failure mode, each with real processes on a Redis and PostgreSQL of its own:
PostgreSQL down, a provider down, Redis killed and restarted on its AOF, a worker killed with
SIGKILL mid-charge, a worker stopped with SIGTERM mid-charge. In each, nothing accepted is lost
and nothing is charged twice."""

import collections
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import migrate
from tests.support.payments import (
    POLL_INTERVAL_S,
    dead_letter_count,
    ids_of,
    ledger_transactions_by_reference,
    pending_count,
    send_card_payments,
    wait_for_in_flight,
    wait_until_terminal,
)
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisServer
from tests.support.simulator import Simulator
from tests.support.stack import Stack, cli, running_stack

PAYMENTS = 40
#: Long enough for every payment to reach the provider while the outage lasts.
CHARGED_TIMEOUT_S = 60.0
#: How long the provider stays down: well inside the test stacks' retry span (about 17 s).
PROVIDER_OUTAGE_S = 5.0
#: Provider latency that keeps a worker mid-call when it is killed.
SLOW_PROVIDER_MS = 1_500
#: A provider so slow that nothing in flight finishes within a stopping worker's grace.
STUCK_PROVIDER_MS = 8_000
SHUTDOWN_GRACE_S = 1
#: Platforms send SIGKILL 30 s after SIGTERM; a worker must be gone well before.
SHUTDOWN_BOUND_S = 25
#: Short attempt limits so a killed worker's entries are reclaimed within seconds.
#: A killed worker's messages are reclaimed after the longest time limit plus the grace.
FAST_RECLAIM_ENV = {
    "CHARGE_TIME_LIMIT_S": "4",
    "REFUND_TIME_LIMIT_S": "4",
    "RECLAIM_GRACE_S": "1",
    "PROVIDER_TIMEOUT_S": "3",
    # A webhook delivery must end before its message would be reclaimed too.
    "WEBHOOK_TIMEOUT_S": "2",
}


def payment(stack: Stack, payment_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    answer = httpx.get(f"{stack.base_url}/v1/payments/{payment_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def wait_for_charges(simulator: Simulator, payment_ids: list[str]) -> None:
    deadline = time.monotonic() + CHARGED_TIMEOUT_S
    while time.monotonic() < deadline:
        charged = {charge["payment_id"] for charge in simulator.charges()}
        if charged >= set(payment_ids):
            return
        time.sleep(POLL_INTERVAL_S)
    raise AssertionError("not every payment was charged in time")


def wait_for_a_charge_in_flight(stack: Stack, payment_ids: list[str]) -> None:
    """Until some payment is ``processing``: its PaymentIntent exists and a worker is inside
    the slow confirm call, the moment a crash is most dangerous."""
    deadline = time.monotonic() + CHARGED_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(payment(stack, pid)["status"] == "processing" for pid in payment_ids):
            return
        time.sleep(POLL_INTERVAL_S)
    raise AssertionError("no charge was ever in flight")


def assert_settled_once(stack: Stack, payment_ids: list[str]) -> None:
    """Succeeded and recorded, one charge and one ledger transaction each, nothing dead."""
    final = wait_until_terminal(stack, payment_ids)
    assert {payment["status"] for payment in final.values()} == {"succeeded"}
    charges = collections.Counter(c["payment_id"] for c in Simulator(stack.simulator_url).charges())
    assert charges == collections.Counter(payment_ids)
    ledger = ledger_transactions_by_reference(stack.env["DATABASE_URL"])
    assert ledger == dict.fromkeys(payment_ids, 1)
    assert dead_letter_count(stack.env["REDIS_URL"]) == 0
    verified = cli(stack.env, "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.fixture
def own_postgres_stack(
    private_postgres: PostgresServer, private_redis: RedisServer, tmp_path: Path
) -> Iterator[tuple[Stack, PostgresServer]]:
    database_url = private_postgres.create_database("paystream")
    migrate(database_url)
    for stack in running_stack(private_redis.url, database_url, tmp_path):
        yield stack, private_postgres


def test_postgres_down_charging_goes_on_and_the_ledger_catches_up(
    own_postgres_stack: tuple[Stack, PostgresServer],
) -> None:
    stack, postgres = own_postgres_stack
    postgres.stop()

    payment_ids = ids_of(send_card_payments(stack, PAYMENTS, "pg-down"))
    wait_for_charges(Simulator(stack.simulator_url), payment_ids)

    # Charged, readable from Redis, and waiting for the ledger: nothing is recorded yet.
    waiting = [payment(stack, payment_id) for payment_id in payment_ids]
    assert {answer["status"] for answer in waiting} == {"succeeded"}
    assert not any("ledger" in answer for answer in waiting)
    postgres.start()
    assert_settled_once(stack, payment_ids)


def test_provider_down_the_queue_builds_and_drains_afterwards(stack: Stack) -> None:
    simulator = Simulator(stack.simulator_url)
    simulator.configure(fail_before_rate=1)

    payment_ids = ids_of(send_card_payments(stack, PAYMENTS, "provider-down"))
    time.sleep(PROVIDER_OUTAGE_S)

    assert simulator.charges() == []
    assert {payment(stack, payment_id)["status"] for payment_id in payment_ids} <= {
        "pending",
        "processing",
    }
    simulator.configure(fail_before_rate=0)
    assert_settled_once(stack, payment_ids)


@pytest.fixture
def aof_stack(tmp_path: Path, fresh_database_url: str) -> Iterator[tuple[Stack, RedisServer]]:
    server = RedisServer(tmp_path / "redis", appendonly=True, appendfsync="always")
    try:
        for stack in running_stack(server.url, fresh_database_url, tmp_path, workers=0):
            yield stack, server
    finally:
        server.stop()


def test_redis_killed_and_restarted_on_its_aof_loses_nothing_accepted(
    aof_stack: tuple[Stack, RedisServer],
) -> None:
    stack, server = aof_stack
    answers = send_card_payments(stack, PAYMENTS, "aof")

    server.stop()  # SIGKILL: no chance to write anything more
    server.start()

    replayed = send_card_payments(stack, PAYMENTS, "aof")
    assert {key: answer.content for key, answer in replayed.items()} == {
        key: answer.content for key, answer in answers.items()
    }
    assert all(answer.headers.get("idempotent-replayed") for answer in replayed.values())
    stack.workers.start(2)
    assert_settled_once(stack, ids_of(answers))


@pytest.fixture
def slow_reclaim_stack(
    private_redis: RedisServer, fresh_database_url: str, tmp_path: Path
) -> Iterator[Stack]:
    yield from running_stack(private_redis.url, fresh_database_url, tmp_path, FAST_RECLAIM_ENV)


def test_a_worker_killed_mid_charge_is_reclaimed_and_charges_once(
    slow_reclaim_stack: Stack,
) -> None:
    stack = slow_reclaim_stack
    Simulator(stack.simulator_url).configure(latency_ms=SLOW_PROVIDER_MS)
    payment_ids = ids_of(send_card_payments(stack, PAYMENTS // 2, "killed"))
    wait_for_a_charge_in_flight(stack, payment_ids)

    stack.workers.kill_oldest()
    stack.workers.kill_oldest()

    assert_settled_once(stack, payment_ids)


@pytest.fixture
def quick_grace_stack(
    private_redis: RedisServer, fresh_database_url: str, tmp_path: Path
) -> Iterator[Stack]:
    env = {"WORKER_SHUTDOWN_GRACE_S": str(SHUTDOWN_GRACE_S)}
    yield from running_stack(private_redis.url, fresh_database_url, tmp_path, env, workers=1)


@pytest.mark.slow
def test_a_stopped_worker_hands_back_what_it_could_not_finish_in_its_grace(
    quick_grace_stack: Stack,
) -> None:
    """SIGTERM, as a platform sends before it kills: the worker lets its messages in flight
    finish for the grace, hands the rest back for others to take at once (not after a reclaim
    timeout), and exits well inside the platform's 30 s."""
    stack = quick_grace_stack
    simulator = Simulator(stack.simulator_url)
    simulator.configure(latency_ms=STUCK_PROVIDER_MS)
    payment_ids = ids_of(send_card_payments(stack, PAYMENTS, "stopped"))
    wait_for_in_flight(stack.env["REDIS_URL"], PAYMENTS)

    worker = stack.workers.running.popleft()
    worker.kill(signal.SIGTERM)
    worker.popen.wait(timeout=SHUTDOWN_BOUND_S)  # raises if the worker outstays the platform
    stack.workers.stopped.append(worker)

    assert pending_count(stack.env["REDIS_URL"]) == 0, "everything unfinished was handed back"
    simulator.configure(latency_ms=0)
    stack.workers.start()
    assert_settled_once(stack, payment_ids)
