"""Watching payments settle through the public API, and what the ledger holds for them."""

import concurrent.futures
import time
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
