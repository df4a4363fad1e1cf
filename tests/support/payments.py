"""Sending payments under faults, watching them settle through the public API, and what the
ledger holds for them."""

import collections
import concurrent.futures
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import redis

from app.queue.dispatch import PAYMENTS_QUEUE
from app.queue.keys import CONSUMER_GROUP, dead_key, stream_key
from app.settings import load
from tests.support.stack import Stack

SETTLE_TIMEOUT_S = 180.0
POLL_INTERVAL_S = 0.2
REQUEST_TIMEOUT_S = 30.0
TERMINAL = {"succeeded", "failed", "requires_action"}
SENDERS = 8
ACCEPT_RETRY_INTERVAL_S = 0.2
#: Short, so a request stuck on a dying server is retried rather than waited out.
PACED_REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class PacedLoad:
    """Payments sent at a steady pace while something fails, each retried with its own key
    until answered 202."""

    count: int
    rate_per_s: float
    senders: int
    key_prefix: str
    body_of: Callable[[int], dict[str, Any]]
    #: How long one payment may take to be accepted, retries included.
    accept_timeout_s: float
    #: The only refusals a retry may meet (None: any).
    refusals: Collection[int] | None = None


def send_paced(
    stack: Stack, load: PacedLoad, started: float
) -> tuple[dict[int, str], collections.Counter[int]]:
    """Each payment's id by its index, and how often each status was answered."""
    statuses: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    with httpx.Client(
        base_url=stack.base_url, headers=headers, timeout=PACED_REQUEST_TIMEOUT_S
    ) as client:

        def send(index: int) -> tuple[int, str]:
            time.sleep(max(0.0, started + index / load.rate_per_s - time.monotonic()))
            key = {"Idempotency-Key": f"{load.key_prefix}-{index}"}
            deadline = time.monotonic() + load.accept_timeout_s
            while time.monotonic() < deadline:
                try:
                    response = client.post("/v1/payments", json=load.body_of(index), headers=key)
                except httpx.TransportError:
                    time.sleep(ACCEPT_RETRY_INTERVAL_S)
                    continue
                with lock:
                    statuses[response.status_code] += 1
                if response.status_code == 202:
                    return index, str(response.json()["id"])
                if load.refusals is not None:
                    assert response.status_code in load.refusals, response.text
                time.sleep(ACCEPT_RETRY_INTERVAL_S)
            raise AssertionError(f"payment {index} was never accepted")

        with concurrent.futures.ThreadPoolExecutor(max_workers=load.senders) as pool:
            accepted = dict(pool.map(send, range(load.count)))
    return accepted, statuses


def send_card_payments(stack: Stack, count: int, prefix: str) -> dict[str, httpx.Response]:
    """``count`` Stripe card payments sent at once, keyed ``prefix-N``; each must be accepted.
    The answers by key."""
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    with httpx.Client(
        base_url=stack.base_url, headers=headers, timeout=REQUEST_TIMEOUT_S
    ) as client:

        def one(index: int) -> tuple[str, httpx.Response]:
            key = f"{prefix}-{index}"
            body = {"amount": 700 + index, "currency": "usd", "payment_method": "pm_card_visa"}
            response = client.post("/v1/payments", json=body, headers={"Idempotency-Key": key})
            assert response.status_code == 202, response.text
            return key, response

        with concurrent.futures.ThreadPoolExecutor(max_workers=SENDERS) as pool:
            return dict(pool.map(one, range(count)))


def ids_of(answers: dict[str, httpx.Response]) -> list[str]:
    return [str(answer.json()["id"]) for answer in answers.values()]


def dead_letter_count(redis_url: str) -> int:
    """Messages in the payments queue's dead-letter streams, over every partition."""
    client = redis.Redis.from_url(redis_url)
    try:
        partitions = range(load().stream_partitions)
        return sum(int(client.xlen(dead_key(p, PAYMENTS_QUEUE))) for p in partitions)
    finally:
        client.close()


def pending_count(redis_url: str) -> int:
    """Messages delivered to a worker and not settled yet (in flight), over every partition."""
    client = redis.Redis.from_url(redis_url)
    try:
        streams = [stream_key(p, PAYMENTS_QUEUE) for p in range(load().stream_partitions)]
        summaries = [client.xpending(stream, CONSUMER_GROUP) for stream in streams]
        return sum(int(summary["pending"]) for summary in summaries)
    except redis.ResponseError:  # no group yet: no worker has read anything
        return 0
    finally:
        client.close()


def wait_for_in_flight(redis_url: str, count: int, timeout_s: float = SETTLE_TIMEOUT_S) -> int:
    """Until at least ``count`` messages are in flight; how many were seen."""
    deadline = time.monotonic() + timeout_s
    while (seen := pending_count(redis_url)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {seen} messages were ever in flight, not {count}")
        time.sleep(POLL_INTERVAL_S)
    return seen


def wait_until_terminal(
    stack: Stack, payment_ids: list[str], timeout_s: float = SETTLE_TIMEOUT_S
) -> dict[str, dict[str, Any]]:
    """Every payment once terminal (and, when it succeeded, recorded in the ledger)."""
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    final: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    with httpx.Client(
        base_url=stack.base_url, headers=headers, timeout=REQUEST_TIMEOUT_S
    ) as client:
        while len(final) < len(payment_ids) and time.monotonic() < deadline:
            for payment_id in payment_ids:
                if payment_id in final:
                    continue
                payment = client.get(f"/v1/payments/{payment_id}").json()
                recorded = payment["status"] != "succeeded" or "ledger" in payment
                if payment["status"] in TERMINAL and recorded:
                    final[payment_id] = payment
            time.sleep(POLL_INTERVAL_S)
    missing = sorted(set(payment_ids) - set(final))
    assert not missing, f"{len(missing)} payments never settled, e.g. {missing[:3]}"
    return final


def ledger_transactions_by_reference(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT reference, count(*) FROM ledger_transactions GROUP BY reference"
        ).fetchall()
    return {reference: count for reference, count in rows}
