"""Outbound webhooks with real processes: uvicorn, dramatiq workers, the simulator, Redis, a
PostgreSQL of the test's own, and a real HTTP receiver in a process of its own.

The receiver refuses its first deliveries, then goes down for a while, during which
PostgreSQL is stopped and started again; it comes back answering slowly, and a worker is killed
with SIGKILL while a delivery waits on it. Once the path is clear, every payment's event has
reached the receiver, each verified with ``standardwebhooks`` from the receiver's side, and
each attempt is listed by the API.
"""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from tests.conftest import migrate
from tests.support.payments import ids_of, send_card_payments
from tests.support.postgres_server import PostgresServer
from tests.support.receiver import Delivery, ReceiverProcess
from tests.support.redis_server import RedisServer
from tests.support.stack import Stack, running_stack

PAYMENTS = 24
#: The schedule shrunk 1,000 times: retries after ~5 ms, 0.3 s, 1.8 s, 7.2 s, 18 s ...
WEBHOOK_ENV = {
    "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "WEBHOOK_RETRY_SCALE": "0.001",
    "WEBHOOK_SWEEP_INTERVAL_S": "0.5",
    "WEBHOOK_TIMEOUT_S": "2",
    # A killed worker's messages come back within seconds.
    "CHARGE_TIME_LIMIT_S": "4",
    "REFUND_TIME_LIMIT_S": "4",
    "RECLAIM_GRACE_S": "1",
    "PROVIDER_TIMEOUT_S": "3",
}
RECEIVER_DOWN_S = 2.0
SLOW_ANSWER_S = 1.0
POSTGRES_DOWN_S = 2.0
ARRIVAL_TIMEOUT_S = 90.0
POLL_INTERVAL_S = 0.1


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ReceiverProcess]:
    log_dir = tmp_path / "receiver"
    log_dir.mkdir()
    started = ReceiverProcess(log_dir)
    yield started
    started.stop()


@pytest.fixture
def webhook_stack(
    private_postgres: PostgresServer, private_redis: RedisServer, tmp_path: Path
) -> Iterator[tuple[Stack, PostgresServer]]:
    database_url = private_postgres.create_database("paystream")
    migrate(database_url)
    for stack in running_stack(private_redis.url, database_url, tmp_path, WEBHOOK_ENV):
        yield stack, private_postgres


def api(stack: Stack) -> httpx.Client:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    return httpx.Client(base_url=stack.base_url, headers=headers, timeout=10.0)


def register(stack: Stack, url: str) -> str:
    """A new endpoint for every event; its secret."""
    with api(stack) as client:
        answer = client.post(
            "/v1/webhook_endpoints",
            json={"url": url, "enabled_events": ["*"]},
            headers={"Idempotency-Key": "e2e-endpoint"},
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["secret"])


def wait_for_events(receiver: ReceiverProcess, payment_ids: set[str]) -> dict[str, Delivery]:
    """The first delivery of each payment's event, once every payment has one."""
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    by_payment: dict[str, Delivery] = {}
    while time.monotonic() < deadline:
        by_payment = {}
        for delivery in list(receiver.deliveries):
            payment_id = payment_of(delivery)
            by_payment.setdefault(payment_id, delivery)
        if set(by_payment) >= payment_ids:
            return by_payment
        time.sleep(POLL_INTERVAL_S)
    missing = payment_ids - set(by_payment)
    raise AssertionError(f"{len(missing)} payments' events never arrived")


def payment_of(delivery: Delivery) -> str:
    return str(json.loads(delivery.body)["data"]["object"]["id"])


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, "the receiver was never reached"
        time.sleep(POLL_INTERVAL_S / 10)


def wait_for_posts(receiver: ReceiverProcess, count: int) -> None:
    wait_until(lambda: receiver.posts >= count)


@pytest.mark.slow
def test_every_event_arrives_signed_through_refusals_outages_and_a_killed_worker(
    webhook_stack: tuple[Stack, PostgresServer], receiver: ReceiverProcess
) -> None:
    stack, postgres = webhook_stack
    secret = register(stack, f"{receiver.url}/hooks")
    receiver.refusals = [500, 503, 500]

    payment_ids = set(ids_of(send_card_payments(stack, PAYMENTS, "wh-e2e")))
    wait_for_posts(receiver, 3)
    receiver.stop()
    time.sleep(RECEIVER_DOWN_S)
    postgres.stop()  # deliveries still pending, their retries due meanwhile
    time.sleep(POSTGRES_DOWN_S)
    postgres.start()
    receiver.start(delay_s=SLOW_ANSWER_S)
    wait_until(lambda: receiver.answering > 0)
    stack.workers.kill_oldest()  # mid-delivery: the receiver is holding its answers
    receiver.delay_s = 0.0

    arrived = wait_for_events(receiver, payment_ids)

    for delivery in arrived.values():
        verified = Webhook(secret).verify(delivery.body, delivery.headers)
        assert verified["type"] == "payment.succeeded"
        assert delivery.headers["webhook-id"] == verified["id"]
    with api(stack) as client:
        some_event = next(iter(arrived.values())).headers["webhook-id"]
        attempts = client.get(f"/v1/events/{some_event}/attempts").json()["data"]
    assert any(attempt["status_code"] == 200 for attempt in attempts)
