"""Chaos: payments through real processes while everything that can break, breaks.

The first test sends 2,000 payments through the whole stack under every fault at once; the
second kills worker processes that each hold hundreds of payments in flight mid-call.

The simulator fails 10 % of charge calls with a 500 before charging and makes 3 % ambiguous
(charged, then a 500 or an answer that hangs past the client timeout); its webhooks, which
settle what the ambiguous answers left open, are delayed, duplicated or reordered 10 % each.
A worker process is killed with SIGKILL every few seconds and replaced; PostgreSQL is stopped
for 20 s mid-run; Redis, with AOF fsynced on every write, is killed with SIGKILL and restarted.
Clients keep retrying with the same Idempotency-Key until they get their 202, as real clients
do.

Afterwards every accepted payment is terminal, money moved at the simulator equals the ledger
exactly, nothing was charged twice, nothing is dead-lettered, the ledger verifies, and a real
webhook receiver got exactly one payment.succeeded event per succeeded payment.
"""

import collections
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import migrate
from tests.support.payments import (
    PacedLoad,
    dead_letter_count,
    ids_of,
    send_card_payments,
    send_paced,
    wait_for_in_flight,
    wait_until_terminal,
)
from tests.support.postgres_server import PostgresServer
from tests.support.receiver import Receiver, receiver
from tests.support.redis_server import RedisServer
from tests.support.simulator import Simulator
from tests.support.stack import Stack, cli, running_stack

__all__ = ["receiver"]

PAYMENTS = 2_000
#: Payments are sent over about 40 s, so every fault below lands on a queue with work in it.
SEND_RATE_PER_S = 50
SENDERS = 16
KILL_INTERVAL_S = 4.0
POSTGRES_DOWN_AT_S = 8.0
POSTGRES_OUTAGE_S = 20.0
REDIS_KILL_AT_S = 32.0
#: How long Redis stays dead before it is started again on its AOF.
REDIS_OUTAGE_S = 2.0
FAULT_TICK_S = 0.1
PROVIDER_FAULTS = {
    "fail_before_rate": 0.10,
    "fail_after_rate": 0.02,
    "hang_after_rate": 0.01,
    "hang_ms": 3_000,
    # The providers' webhooks reach the web process late, twice, or out of order.
    "webhook_delay_rate": 0.10,
    "webhook_delay_ms": 2_000,
    "webhook_duplicate_rate": 0.10,
    "webhook_reorder_rate": 0.10,
}
#: A hung answer must outlast the adapters' timeout to be ambiguous.
PROVIDER_TIMEOUT_S = 2
#: Short attempt limits, so a killed worker's entries are reclaimed within seconds.
ATTEMPT_TIME_LIMIT_S = 5
RECLAIM_GRACE_S = 2
#: How long one client keeps retrying its payment through the outages.
ACCEPT_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 300.0
#: A webhook delivery ends before its message would be reclaimed; retries come quickly.
WEBHOOK_ENV = {
    "WEBHOOK_TIMEOUT_S": "3",
    "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "WEBHOOK_RETRY_SCALE": "0.01",
    "WEBHOOK_SWEEP_INTERVAL_S": "1",
}
EVENTS_TIMEOUT_S = 120.0


@dataclass
class Faults:
    """What the chaos did, for the assertions and the printed figures."""

    kills: int = 0
    postgres_outage_s: float = 0.0
    redis_outage_s: float = 0.0
    ended_at_s: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass
class Chaos:
    stack: Stack
    simulator: Simulator
    redis: RedisServer
    postgres: PostgresServer
    receiver: Receiver


@pytest.fixture
def chaos(tmp_path: Path, receiver: Receiver) -> Iterator[Chaos]:
    redis_server = RedisServer(tmp_path / "redis", appendonly=True, appendfsync="always")
    postgres = PostgresServer()
    try:
        database_url = postgres.create_database("paystream")
        migrate(database_url)
        env = {
            "PROVIDER_TIMEOUT_S": str(PROVIDER_TIMEOUT_S),
            "CHARGE_TIME_LIMIT_S": str(ATTEMPT_TIME_LIMIT_S),
            "REFUND_TIME_LIMIT_S": str(ATTEMPT_TIME_LIMIT_S),
            "RECLAIM_GRACE_S": str(RECLAIM_GRACE_S),
            **WEBHOOK_ENV,
        }
        for stack in running_stack(redis_server.url, database_url, tmp_path, env):
            simulator = Simulator(stack.simulator_url)
            simulator.configure(**PROVIDER_FAULTS)
            subscribe(stack, receiver.url)
            yield Chaos(stack, simulator, redis_server, postgres, receiver)
    finally:
        redis_server.stop()
        postgres.cleanup()


def subscribe(stack: Stack, url: str) -> None:
    headers = {"Authorization": f"Bearer {stack.api_key}", "Idempotency-Key": "chaos"}
    body = {"url": url, "enabled_events": ["payment.succeeded"]}
    answer = httpx.post(f"{stack.base_url}/v1/webhook_endpoints", json=body, headers=headers)
    assert answer.status_code == 201, answer.text


def succeeded_events(receiver: Receiver, expected: set[str]) -> dict[str, set[str]]:
    """Event ids received per payment, once every expected payment has one (or the wait is
    over)."""
    deadline = time.monotonic() + EVENTS_TIMEOUT_S
    while True:
        events: dict[str, set[str]] = collections.defaultdict(set)
        for delivery in list(receiver.deliveries):
            event = json.loads(delivery.body)
            assert event["type"] == "payment.succeeded"
            events[event["data"]["object"]["id"]].add(event["id"])
        if set(events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(FAULT_TICK_S)


def payment_body(index: int) -> dict[str, Any]:
    """Mostly Stripe, every 5th on Paystack, a few declines."""
    if index % 5 == 0:
        return {
            "amount": 10_000 + index,
            "currency": "NGN",
            "payment_method": "AUTH_success",
            "customer": {"email": f"buyer{index}@example.com"},
        }
    method = "pm_card_chargeDeclined" if index % 23 == 0 else "pm_card_visa"
    return {"amount": 1_000 + index, "currency": "usd", "payment_method": method}


LOAD = PacedLoad(
    count=PAYMENTS,
    rate_per_s=SEND_RATE_PER_S,
    senders=SENDERS,
    key_prefix="chaos",
    body_of=payment_body,
    accept_timeout_s=ACCEPT_TIMEOUT_S,
)


def run_faults(chaos: Chaos, started: float, stop: threading.Event, faults: Faults) -> None:
    """The timeline: a worker killed every few seconds throughout; PostgreSQL down at 8 s for
    20 s; Redis killed at 32 s and restarted on its AOF 2 s later."""
    stopped_at: dict[str, float] = {}

    def after_stop(outage_s: float, restart: Callable[[], None]) -> None:
        # Counted from the stop itself, which may run a tick or a kill late: a restart at a
        # fixed moment would cut the outage short by as much.
        restart_at_s = time.monotonic() - started + outage_s
        timeline.append((restart_at_s, restart))
        timeline.sort(key=lambda event: event[0])

    def postgres_down() -> None:
        stopped_at["postgres"] = time.monotonic()
        chaos.postgres.stop()
        after_stop(POSTGRES_OUTAGE_S, postgres_up)

    def postgres_up() -> None:
        chaos.postgres.start()
        faults.postgres_outage_s = time.monotonic() - stopped_at["postgres"]

    def redis_down() -> None:
        stopped_at["redis"] = time.monotonic()
        chaos.redis.stop()
        after_stop(REDIS_OUTAGE_S, redis_up)

    def redis_up() -> None:
        chaos.redis.start()
        faults.redis_outage_s = time.monotonic() - stopped_at["redis"]

    timeline: list[tuple[float, Callable[[], None]]] = [
        (POSTGRES_DOWN_AT_S, postgres_down),
        (REDIS_KILL_AT_S, redis_down),
    ]
    next_kill_s = KILL_INTERVAL_S
    try:
        while timeline or not stop.is_set():
            now_s = time.monotonic() - started
            if now_s >= next_kill_s and not stop.is_set():
                chaos.stack.workers.kill_oldest()
                faults.kills += 1
                next_kill_s += KILL_INTERVAL_S
            while timeline and now_s >= timeline[0][0]:
                timeline.pop(0)[1]()
            time.sleep(FAULT_TICK_S)
    except Exception as error:  # reported by the test; a dead fault thread must not hang it
        faults.errors.append(repr(error))
    faults.ended_at_s = time.monotonic() - started


def ledger_captures(database_url: str) -> dict[str, tuple[int, str]]:
    """Payment id → (amount, currency) of its capture, from the debit posting."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT t.reference, p.amount, p.currency FROM ledger_transactions t"
            " JOIN ledger_postings p ON p.transaction_seq = t.seq"
            " WHERE t.kind = 'payment_captured' AND p.direction = 'debit'"
        ).fetchall()
    captures: dict[str, tuple[int, str]] = {}
    for reference, amount, currency in rows:
        assert reference not in captures, f"{reference} captured twice in the ledger"
        captures[reference] = (amount, currency.strip().lower())
    return captures


@pytest.mark.slow
def test_nothing_lost_nothing_doubled_under_chaos(chaos: Chaos) -> None:
    started = time.monotonic()
    faults = Faults()
    stop = threading.Event()
    fault_thread = threading.Thread(target=run_faults, args=(chaos, started, stop, faults))
    fault_thread.start()
    try:
        accepted, statuses = send_paced(chaos.stack, LOAD, started)
    finally:
        # Kills stop with the load; the outages play out in full whatever happened.
        stop.set()
        fault_thread.join()
    assert faults.errors == []
    assert faults.postgres_outage_s >= POSTGRES_OUTAGE_S
    assert faults.redis_outage_s > 0

    final = wait_until_terminal(chaos.stack, list(accepted.values()), DRAIN_TIMEOUT_S)
    drained_s = time.monotonic() - started - faults.ended_at_s

    assert len(accepted) == PAYMENTS
    assert 500 not in statuses, f"an outage answered 500: {statuses}"
    succeeded = {pid for pid, payment in final.items() if payment["status"] == "succeeded"}
    for index, payment_id in accepted.items():
        expected = (
            "failed"
            if payment_body(index)["payment_method"].endswith("Declined")
            else ("succeeded")
        )
        assert final[payment_id]["status"] == expected, final[payment_id]

    charges = chaos.simulator.charges()
    per_payment = collections.Counter(charge["payment_id"] for charge in charges)
    doubled = [payment_id for payment_id, count in per_payment.items() if count > 1]
    assert doubled == [], f"charged twice: {doubled[:5]}"
    moved = {c["payment_id"]: (c["amount"], c["currency"].lower()) for c in charges}
    assert moved == ledger_captures(chaos.stack.env["DATABASE_URL"])
    assert set(moved) == succeeded
    assert dead_letter_count(chaos.stack.env["REDIS_URL"]) == 0
    verified = cli(chaos.stack.env, "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    events = succeeded_events(chaos.receiver, succeeded)
    assert set(events) == succeeded, f"{len(succeeded - set(events))} events never arrived"
    assert all(len(ids) == 1 for ids in events.values()), "one event per succeeded payment"

    print(
        f"chaos: {PAYMENTS} payments ({len(succeeded)} succeeded), {faults.kills} worker "
        f"SIGKILLs, PostgreSQL down {faults.postgres_outage_s:.1f} s, Redis down "
        f"{faults.redis_outage_s:.1f} s, answers {dict(statuses)}, drained "
        f"{drained_s:.1f} s after the last fault"
    )


IN_FLIGHT_PAYMENTS = 1_500
IN_FLIGHT_LATENCY_MS = 200
#: A worker is killed each time at least this many of its messages are in flight.
IN_FLIGHT_AT_KILL = 200
IN_FLIGHT_KILLS = 3
IN_FLIGHT_FAULTS = {"fail_after_rate": 0.02, "hang_after_rate": 0.01, "hang_ms": 3_500}


@pytest.fixture
def backlog_stack(
    private_redis: RedisServer, fresh_database_url: str, tmp_path: Path
) -> Iterator[Stack]:
    env = {
        "PROVIDER_TIMEOUT_S": str(PROVIDER_TIMEOUT_S),
        "CHARGE_TIME_LIMIT_S": str(ATTEMPT_TIME_LIMIT_S),
        "REFUND_TIME_LIMIT_S": str(ATTEMPT_TIME_LIMIT_S),
        "RECLAIM_GRACE_S": str(RECLAIM_GRACE_S),
        **WEBHOOK_ENV,
    }
    yield from running_stack(private_redis.url, fresh_database_url, tmp_path, env, workers=0)


@pytest.mark.slow
def test_workers_killed_with_hundreds_in_flight_lose_and_double_nothing(
    backlog_stack: Stack,
) -> None:
    """At 200 ms provider latency one worker process holds hundreds of payments mid-call; it
    is SIGKILLed, again and again, its replacement each time taking over what it held."""
    stack = backlog_stack
    simulator = Simulator(stack.simulator_url)
    simulator.configure(latency_ms=IN_FLIGHT_LATENCY_MS, **IN_FLIGHT_FAULTS)
    payment_ids = ids_of(send_card_payments(stack, IN_FLIGHT_PAYMENTS, "in-flight"))
    stack.workers.start()
    seen = []
    for _ in range(IN_FLIGHT_KILLS):
        seen.append(wait_for_in_flight(stack.env["REDIS_URL"], IN_FLIGHT_AT_KILL))
        stack.workers.kill_oldest()

    final = wait_until_terminal(stack, payment_ids, DRAIN_TIMEOUT_S)

    assert {payment["status"] for payment in final.values()} == {"succeeded"}
    charges = collections.Counter(charge["payment_id"] for charge in simulator.charges())
    assert charges == collections.Counter(payment_ids), "each charged exactly once"
    moved = {c["payment_id"]: (c["amount"], c["currency"].lower()) for c in simulator.charges()}
    assert moved == ledger_captures(stack.env["DATABASE_URL"])
    assert dead_letter_count(stack.env["REDIS_URL"]) == 0
    verified = cli(stack.env, "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    print(f"in flight when killed: {seen}")
