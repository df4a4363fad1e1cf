"""The whole path with real processes: uvicorn, dramatiq, the simulator, Redis, PostgreSQL.

200 payments go in, a third of them sent several times at once, some declined; every one must
end terminal with exactly one charge per success at the simulator, one ledger transaction per
success, and a ledger that verifies. Then a few are refunded, each request sent twice: one
refund each at the simulator, one refund transaction each in the ledger. Every outcome is one
event, relayed to PostgreSQL with the history; and once Redis has let the records go, the API
still answers every payment, and lists them all, from the history.
"""

import concurrent.futures
import time
from collections import Counter
from typing import Any

import httpx
import psycopg
import redis

from app.queue import keys
from tests.support.payments import (
    POLL_INTERVAL_S,
    REQUEST_TIMEOUT_S,
    SETTLE_TIMEOUT_S,
    ledger_transactions_by_reference,
    wait_until_terminal,
)
from tests.support.simulator import Simulator
from tests.support.stack import Stack, cli

PAYMENTS = 200
SENDERS = 16
#: Succeeded payments refunded after settling: Stripe's and Paystack's, half of them partially.
REFUNDS = 6


def payment_body(index: int) -> dict[str, Any]:
    """Mostly Stripe successes; every 10th on Paystack; some declines on both."""
    if index % 10 == 0:
        method = "AUTH_declined" if index % 40 == 0 else "AUTH_success"
        return {
            "amount": 1000 + index,
            "currency": "NGN",
            "payment_method": method,
            "customer": {"email": f"buyer{index}@example.com"},
        }
    method = "pm_card_chargeDeclined" if index % 17 == 0 else "pm_card_visa"
    return {"amount": 500 + index, "currency": "usd", "payment_method": method}


def send_all(stack: Stack) -> dict[int, list[httpx.Response]]:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    jobs = []
    for index in range(PAYMENTS):
        copies = 3 if index % 3 == 0 else 1
        jobs += [(index, copy) for copy in range(copies)]
    responses: dict[int, list[httpx.Response]] = {index: [] for index in range(PAYMENTS)}
    with httpx.Client(
        base_url=stack.base_url, headers=headers, timeout=REQUEST_TIMEOUT_S
    ) as client:

        def send(job: tuple[int, int]) -> tuple[int, httpx.Response]:
            index, _ = job
            response = client.post(
                "/v1/payments",
                json=payment_body(index),
                headers={"Idempotency-Key": f"e2e-{index}"},
            )
            return index, response

        with concurrent.futures.ThreadPoolExecutor(max_workers=SENDERS) as pool:
            for index, response in pool.map(send, jobs):
                responses[index].append(response)
    return responses


def test_two_hundred_payments_settle_exactly_once(stack: Stack) -> None:
    started = time.monotonic()
    responses = send_all(stack)

    payment_ids: dict[int, str] = {}
    for index, answers in responses.items():
        assert {answer.status_code for answer in answers} == {202}, answers[0].text
        assert len({answer.content for answer in answers}) == 1, "a replay differed"
        assert sum("idempotent-replayed" not in answer.headers for answer in answers) == 1
        payment_ids[index] = answers[0].json()["id"]
    final = wait_until_terminal(stack, list(payment_ids.values()))
    elapsed_s = time.monotonic() - started

    succeeded = {pid for pid, payment in final.items() if payment["status"] == "succeeded"}
    for index, payment_id in payment_ids.items():
        method = payment_body(index)["payment_method"]
        expected = "failed" if "eclined" in method else "succeeded"
        assert final[payment_id]["status"] == expected, final[payment_id]
        if expected == "failed":
            assert final[payment_id]["failure"]["code"], final[payment_id]
        if method == "pm_card_chargeDeclined":
            assert final[payment_id]["failure"]["code"] == "card_declined"

    charges = httpx.get(f"{stack.simulator_url}/_sim/charges").json()["charges"]
    charged = [charge["payment_id"] for charge in charges]
    assert sorted(charged) == sorted(succeeded), "money moved other than once per success"

    ledger = ledger_transactions_by_reference(stack.env["DATABASE_URL"])
    assert ledger == {payment_id: 1 for payment_id in succeeded}
    for payment_id in succeeded:
        assert final[payment_id]["ledger"]["seq"] >= 1

    refunded = refund_some(stack, final, succeeded)
    moved_back = httpx.get(f"{stack.simulator_url}/_sim/refunds").json()["refunds"]
    assert sorted(refund["payment_id"] for refund in moved_back) == sorted(refunded)
    ledger = ledger_transactions_by_reference(stack.env["DATABASE_URL"])
    assert {payment_id: ledger[payment_id] for payment_id in refunded} == dict.fromkeys(refunded, 2)

    verified = cli(stack.env, "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    print(f"{PAYMENTS} payments ({len(succeeded)} succeeded) settled in {elapsed_s:.1f} s")

    assert_outlived_by_history(stack, list(payment_ids.values()), refunded)


def expected_events(statuses: dict[str, str], refunded: list[str]) -> Counter[tuple[str, str]]:
    """One event per outcome: each payment's, and each refund's."""
    kinds = {"succeeded": "payment.succeeded", "failed": "payment.failed"}
    expected = Counter((pid, kinds[status]) for pid, status in statuses.items())
    expected.update((pid, "payment.succeeded") for pid in refunded)  # refunded: succeeded first
    expected.update((pid, "refund.succeeded") for pid in refunded)
    return expected


def relayed_events(database_url: str) -> Counter[tuple[str, str]]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute("SELECT payment_id, type FROM events").fetchall()
    return Counter((payment_id, event_type) for payment_id, event_type in rows)


def assert_outlived_by_history(stack: Stack, payment_ids: list[str], refunded: list[str]) -> None:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=REQUEST_TIMEOUT_S) as api:
        now = {pid: api.get(f"/v1/payments/{pid}").json() for pid in payment_ids}
        statuses = {pid: p["status"] for pid, p in now.items() if pid not in refunded}
        expected = expected_events(statuses, refunded)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while relayed_events(stack.env["DATABASE_URL"]) != expected:
            assert time.monotonic() < deadline, "events were not relayed exactly once each"
            time.sleep(POLL_INTERVAL_S)

        # Every record and list entry gone from Redis, as after their TTL.
        client = redis.Redis.from_url(stack.env["REDIS_URL"])
        for pattern in ("*:pay:*", "*:list:*"):
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
        client.close()

        for pid in payment_ids:
            answer = api.get(f"/v1/payments/{pid}")
            assert (answer.status_code, answer.json()) == (200, now[pid])
        listed: list[str] = []
        page = api.get("/v1/payments", params={"limit": 100}).json()
        listed += [p["id"] for p in page["data"]]
        while page["has_more"]:
            page = api.get("/v1/payments", params={"limit": 100, "starting_after": listed[-1]})
            page = page.json()
            listed += [p["id"] for p in page["data"]]
    assert sorted(listed) == sorted(payment_ids)
    newest_first = sorted(
        listed, key=lambda pid: (keys.created_ms_of(pid, keys.PAYMENT_ID_PREFIX), pid), reverse=True
    )
    assert listed == newest_first


def refund_some(stack: Stack, final: dict[str, dict[str, Any]], succeeded: set[str]) -> list[str]:
    """Refunds a few payments of each provider, each request sent twice, and waits for them."""
    chosen = sorted(pid for pid in succeeded if final[pid]["provider"] == "stripe")[: REFUNDS // 2]
    chosen += sorted(pid for pid in succeeded if final[pid]["provider"] == "paystack")[
        : REFUNDS // 2
    ]
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    expected: dict[str, str] = {}
    with httpx.Client(
        base_url=stack.base_url, headers=headers, timeout=REQUEST_TIMEOUT_S
    ) as client:
        for index, payment_id in enumerate(chosen):
            body = {"amount": 100} if index % 2 else {}
            answers = [
                client.post(
                    f"/v1/payments/{payment_id}/refunds",
                    json=body,
                    headers={"Idempotency-Key": f"e2e-refund-{index}"},
                )
                for _ in range(2)
            ]
            assert [answer.status_code for answer in answers] == [202, 202], answers[0].text
            assert answers[0].content == answers[1].content
            expected[payment_id] = "partially_refunded" if index % 2 else "refunded"
        wait_until_refunded(client, expected)
    return chosen


def wait_until_refunded(client: httpx.Client, expected: dict[str, str]) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    pending = dict(expected)
    while pending and time.monotonic() < deadline:
        for payment_id, status in list(pending.items()):
            if client.get(f"/v1/payments/{payment_id}").json()["status"] == status:
                del pending[payment_id]
        time.sleep(POLL_INTERVAL_S)
    assert not pending, f"refunds never settled: {pending}"


#: How long the simulator holds a charge's answer back: far longer than a webhook takes, even
#: with the grace an event gives a charge call in flight (actors.provider_events).
ANSWER_HELD_MS = 8_000
WEBHOOK_SETTLES_WITHIN_S = 6.0


def test_a_charge_whose_answer_is_held_is_settled_by_its_webhook_first(stack: Stack) -> None:
    """The charge happens, its answer hangs: the provider's webhook settles and records the
    payment long before the worker hears back, let alone looks it up. (Paystack: its one call
    is the charge; a Stripe rule would hold the PaymentIntent's create back too.)"""
    simulator = Simulator(stack.simulator_url)
    held = {"hang_after_rate": 1, "hang_ms": ANSWER_HELD_MS}
    simulator.configure(rules={"AUTH_success": held})
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    with httpx.Client(base_url=stack.base_url, headers=headers) as client:
        started = time.monotonic()
        payment_ids = [
            client.post(
                "/v1/payments",
                json=payment_body(index),
                headers={"Idempotency-Key": f"held-{index}"},
            ).json()["id"]
            for index in (10, 20)
        ]
        final = wait_until_terminal(stack, payment_ids, WEBHOOK_SETTLES_WITHIN_S)
        settled_s = time.monotonic() - started

    assert {payment["status"] for payment in final.values()} == {"succeeded"}
    assert settled_s < ANSWER_HELD_MS / 1000
    assert sorted(charge["payment_id"] for charge in simulator.charges()) == sorted(payment_ids)
