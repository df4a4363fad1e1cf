"""The whole path with real processes, read from its logs: every line of web and worker is one
JSON object; the request id a client sent follows its payment into the worker's lines; and no
line anywhere holds an API key, a provider secret, a webhook secret or a payment method."""

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.payments import REQUEST_TIMEOUT_S, wait_until_terminal
from tests.support.receiver import Receiver, receiver
from tests.support.redis_server import RedisServer
from tests.support.stack import Stack, running_stack

__all__ = ["receiver"]

STRIPE_SECRET_KEY = f"sk_test_logscan{secrets.token_hex(8)}"
PAYSTACK_SECRET_KEY = f"sk_test_logscan{secrets.token_hex(8)}"
STRIPE_WEBHOOK_SECRET = f"whsec_logscan{secrets.token_hex(8)}"
PAYMENTS = [
    ({"amount": 1200, "currency": "usd", "payment_method": "pm_card_visa"}, "succeeded"),
    ({"amount": 1300, "currency": "usd", "payment_method": "pm_card_chargeDeclined"}, "failed"),
    (
        {
            "amount": 5000,
            "currency": "ngn",
            "payment_method": "AUTH_success",
            "customer": {"email": "buyer@example.com"},
        },
        "succeeded",
    ),
]


@pytest.fixture
def logged_stack(
    private_redis: RedisServer, fresh_database_url: str, tmp_path: Path
) -> Iterator[Stack]:
    env = {
        "LOG_FORMAT": "json",
        "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
        "PAYSTACK_SECRET_KEY": PAYSTACK_SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    }
    yield from running_stack(private_redis.url, fresh_database_url, tmp_path, env, workers=1)


def pay(stack: Stack) -> dict[str, str]:
    """Each payment of PAYMENTS sent under a request id of ours; payment id -> request id."""
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    sent: dict[str, str] = {}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=REQUEST_TIMEOUT_S) as api:
        for index, (body, _) in enumerate(PAYMENTS):
            request_id = f"logscan-{index}-{secrets.token_hex(4)}"
            answer = api.post(
                "/v1/payments",
                json=body,
                headers={"Idempotency-Key": request_id, "X-Request-Id": request_id},
            )
            assert answer.status_code == 202, answer.text
            assert answer.headers["request-id"] == request_id
            sent[answer.json()["id"]] = request_id
    return sent


def lines_of(log: str) -> list[dict[str, Any]]:
    parsed = []
    for line in log.splitlines():
        if not line.strip():
            continue
        document = json.loads(line)  # any line that is not one JSON object fails here
        assert isinstance(document, dict), line
        assert {"time", "level", "event"} <= document.keys(), line
        parsed.append(document)
    return parsed


def webhook_secret(stack: Stack, url: str) -> str:
    """A webhook endpoint for every event, so deliveries are signed while the logs run."""
    headers = {"Authorization": f"Bearer {stack.api_key}", "Idempotency-Key": "logscan"}
    body = {"url": url, "enabled_events": ["*"]}
    answer = httpx.post(f"{stack.base_url}/v1/webhook_endpoints", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["secret"])


def test_logs_are_json_carry_the_request_id_and_hold_no_secret(
    logged_stack: Stack, receiver: Receiver
) -> None:
    signing_secret = webhook_secret(logged_stack, receiver.url)
    sent = pay(logged_stack)
    final = wait_until_terminal(logged_stack, list(sent))
    for payment_id, (_, status) in zip(sent, PAYMENTS, strict=True):
        assert final[payment_id]["status"] == status
    receiver.wait_for(len(PAYMENTS))
    logged_stack.workers.stop()

    web_log = (logged_stack.workers.log_dir / "web.log").read_text()
    worker_log = "".join(process.log() for process in logged_stack.workers.all())
    web, worker = lines_of(web_log), lines_of(worker_log)

    accesses = [line for line in web if line["event"] == "http.request"]
    assert {line["request_id"] for line in accesses} >= set(sent.values())
    for payment_id, request_id in sent.items():
        about = [line for line in worker if line.get("payment_id") == payment_id]
        assert about, f"no worker line about {payment_id}"
        assert {line.get("request_id") for line in about} == {request_id}
        assert any(line["event"] == "record.settled" for line in about)

    everything = web_log + worker_log
    forbidden = [
        logged_stack.api_key,
        STRIPE_SECRET_KEY,
        PAYSTACK_SECRET_KEY,
        STRIPE_WEBHOOK_SECRET,
        signing_secret,
        signing_secret.removeprefix("whsec_"),
        *(body["payment_method"] for body, _ in PAYMENTS),
    ]
    for secret in forbidden:
        assert secret not in everything, f"{secret[:12]}… is in a log line"
    # One access line per request: uvicorn's own (raw path, no ids) stays silent.
    assert not [line for line in web if line.get("logger") == "uvicorn.access"]
