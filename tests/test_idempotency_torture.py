"""Idempotency under a retry storm, over real HTTP against real processes.

2,000 distinct payments, each sent three times at once, then once more after it settled:
exactly 2,000 charges at the simulator, and every one of the four answers of a payment
byte-identical to its first.
"""

import concurrent.futures
import threading
import time
from typing import Any

import httpx
import pytest

from tests.support.stack import Stack

PAYMENTS = 2000
CONCURRENT_COPIES = 3
SENDERS = 32
SETTLE_TIMEOUT_S = 240.0
POLL_INTERVAL_S = 0.5
REQUEST_TIMEOUT_S = 60.0
TERMINAL = {"succeeded", "failed", "requires_action"}


def body(index: int) -> dict[str, Any]:
    return {"amount": 100 + index, "currency": "usd", "payment_method": "pm_card_visa"}


class Sender:
    """One keep-alive client per sender thread (httpx's async pool is the slower client here)."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._local = threading.local()

    def client(self) -> httpx.Client:
        if not hasattr(self._local, "client"):
            headers = {"Authorization": f"Bearer {self._stack.api_key}"}
            self._local.client = httpx.Client(
                base_url=self._stack.base_url, headers=headers, timeout=REQUEST_TIMEOUT_S
            )
        return self._local.client  # type: ignore[no-any-return]

    def send(self, index: int) -> httpx.Response:
        return self.client().post(
            "/v1/payments", json=body(index), headers={"Idempotency-Key": f"storm-{index}"}
        )


def storm(stack: Stack, copies: int) -> dict[int, list[httpx.Response]]:
    sender = Sender(stack)
    # Copies of one payment sit next to each other, so they are in flight together.
    indexes = [index for index in range(PAYMENTS) for _ in range(copies)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=SENDERS) as pool:
        responses = list(pool.map(sender.send, indexes))
    answers: dict[int, list[httpx.Response]] = {index: [] for index in range(PAYMENTS)}
    for index, response in zip(indexes, responses, strict=True):
        answers[index].append(response)
    return answers


def settled_count(stack: Stack, payment_ids: list[str]) -> int:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    done = 0
    with httpx.Client(
        base_url=stack.base_url, headers=headers, timeout=REQUEST_TIMEOUT_S
    ) as client:
        for payment_id in payment_ids:
            if client.get(f"/v1/payments/{payment_id}").json()["status"] in TERMINAL:
                done += 1
    return done


def wait_settled(stack: Stack, payment_ids: list[str]) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    charged = 0
    while time.monotonic() < deadline:
        charged = len(httpx.get(f"{stack.simulator_url}/_sim/charges").json()["charges"])
        if charged >= len(payment_ids) and settled_count(stack, payment_ids) == len(payment_ids):
            return
        time.sleep(POLL_INTERVAL_S)
    raise AssertionError(f"only {charged} of {len(payment_ids)} payments charged in time")


@pytest.mark.slow
def test_a_retry_storm_charges_each_payment_exactly_once(stack: Stack) -> None:
    started = time.monotonic()
    first = storm(stack, CONCURRENT_COPIES)
    sent_s = time.monotonic() - started

    for index, answers in first.items():
        assert [answer.status_code for answer in answers] == [202] * CONCURRENT_COPIES
        assert len({answer.content for answer in answers}) == 1, f"payment {index} differed"
        assert sum("idempotent-replayed" not in a.headers for a in answers) == 1
    payment_ids = [answers[0].json()["id"] for answers in first.values()]
    assert len(set(payment_ids)) == PAYMENTS
    wait_settled(stack, payment_ids)
    settled_s = time.monotonic() - started

    late = storm(stack, 1)

    for index, [answer] in late.items():
        assert answer.status_code == 202
        assert answer.headers["idempotent-replayed"] == "true"
        assert answer.content == first[index][0].content
        assert answer.headers["location"] == first[index][0].headers["location"]
    charges = httpx.get(f"{stack.simulator_url}/_sim/charges").json()["charges"]
    assert sorted(charge["payment_id"] for charge in charges) == sorted(payment_ids)
    print(
        f"{PAYMENTS} payments x {CONCURRENT_COPIES + 1} sends: accepted in {sent_s:.1f} s, "
        f"settled in {settled_s:.1f} s, {len(charges)} charges"
    )
