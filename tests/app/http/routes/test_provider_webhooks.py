"""Inbound provider webhooks on the real Redis: verified on the raw body, taken in once, before
the 200; anything unverified, stale or oversized changes nothing."""

import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import stripe
from starlette.testclient import TestClient

from app.main import create_app
from app.payments.record import PaymentRecord, Step, encode_new
from app.providers.paystack.transformers import reference_of
from app.queue import keys
from app.queue.dispatch import PAYMENTS_QUEUE, PROVIDER_EVENT_ACTOR
from app.settings import Settings, load
from tests.support.worker import PAYSTACK, STRIPE

WEBHOOK_SECRET = "whsec_test_paystream"
PAYSTACK_KEY = "sk_test_webhooks"
#: Stripe refuses deliveries signed longer ago than this.
TOLERANCE_S = 300


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return dataclasses.replace(
        load(),
        redis_url=redis_url,
        stripe_webhook_secret=WEBHOOK_SECRET,
        paystack_secret_key=PAYSTACK_KEY,
    )


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def stored_payment(client: redis.Redis, settings: Settings, provider: str) -> str:
    """A payment accepted and charging, as the worker leaves it before an ambiguous answer."""
    request = STRIPE if provider == "stripe" else PAYSTACK
    payment_id = keys.new_id(keys.PAYMENT_ID_PREFIX, 1 % settings.stream_partitions)
    record = PaymentRecord(payment_id, "mer_hooks", int(time.time()), request, Step.CHARGING)
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, settings.stream_partitions)
    assert partition is not None
    client.hset(keys.payment_key(partition, payment_id), mapping=encode_new(record))
    return payment_id


def event_messages(client: redis.Redis, settings: Settings, payment_id: str) -> list[Any]:
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, settings.stream_partitions)
    assert partition is not None
    entries = client.xrange(keys.stream_key(partition, PAYMENTS_QUEUE))
    messages = [json.loads(fields[b"m"]) for _, fields in entries]
    return [
        message
        for message in messages
        if message["actor_name"] == PROVIDER_EVENT_ACTOR
        and json.loads(message["args"][0])["payment_id"] == payment_id
    ]


def intent_event(payment_id: str, event_id: str | None = None) -> bytes:
    """A payment_intent.succeeded event; its id unique to the payment unless given."""
    intent = {
        "id": "pi_hooks",
        "object": "payment_intent",
        "amount": STRIPE.amount,
        "currency": STRIPE.currency,
        "status": "succeeded",
        "metadata": {"payment_id": payment_id},
    }
    event = {
        "id": event_id or f"evt_{payment_id}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": intent},
    }
    return json.dumps(event).encode()


def stripe_post(
    api: TestClient, body: bytes, secret: str = WEBHOOK_SECRET, signed_at: int | None = None
) -> Any:
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, signed_at)
    return api.post(
        "/v1/webhooks/stripe",
        content=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def charge_success(payment_id: str) -> bytes:
    data = {
        "id": int(time.time_ns()),
        "status": "success",
        "reference": reference_of(payment_id),
        "amount": PAYSTACK.amount,
        "currency": "NGN",
    }
    return json.dumps({"event": "charge.success", "data": data}).encode()


def paystack_post(api: TestClient, body: bytes, key: str = PAYSTACK_KEY) -> Any:
    signature = hmac.new(key.encode(), body, hashlib.sha512).hexdigest()
    return api.post(
        "/v1/webhooks/paystack", content=body, headers={"x-paystack-signature": signature}
    )


def assert_invalid_signature(response: Any) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_signature"


def test_a_signed_stripe_event_is_taken_in_once(
    api: TestClient, redis_client: redis.Redis, settings: Settings
) -> None:
    payment_id = stored_payment(redis_client, settings, "stripe")

    first = stripe_post(api, intent_event(payment_id))
    replayed = stripe_post(api, intent_event(payment_id))

    assert first.status_code == replayed.status_code == 200, first.text
    [message] = event_messages(redis_client, settings, payment_id)
    event = json.loads(message["args"][0])
    assert (event["provider"], event["subject"]) == ("stripe", "payment")
    assert event["event_id"] == f"evt_{payment_id}"
    assert event["answer"]["outcome"] == "succeeded"


@pytest.mark.parametrize(
    ("secret", "age_s"),
    [("whsec_forged", 0), (WEBHOOK_SECRET, TOLERANCE_S + 60)],
    ids=["forged", "stale"],
)
def test_a_forged_or_stale_stripe_event_is_400_and_changes_nothing(
    api: TestClient, redis_client: redis.Redis, settings: Settings, secret: str, age_s: int
) -> None:
    payment_id = stored_payment(redis_client, settings, "stripe")

    response = stripe_post(api, intent_event(payment_id), secret, int(time.time()) - age_s)

    assert_invalid_signature(response)
    assert event_messages(redis_client, settings, payment_id) == []


@pytest.mark.parametrize(
    "headers",
    [{}, {"Stripe-Signature": "t=1"}, {"Stripe-Signature": "garbage"}],
    ids=["missing", "no-v1", "garbled"],
)
def test_a_stripe_event_without_a_usable_signature_is_400(
    api: TestClient, redis_client: redis.Redis, settings: Settings, headers: dict[str, str]
) -> None:
    payment_id = stored_payment(redis_client, settings, "stripe")

    response = api.post("/v1/webhooks/stripe", content=intent_event(payment_id), headers=headers)

    assert_invalid_signature(response)
    assert event_messages(redis_client, settings, payment_id) == []


def test_with_no_webhook_secret_configured_every_stripe_event_is_refused(
    settings: Settings, redis_client: redis.Redis
) -> None:
    unsigned = dataclasses.replace(settings, stripe_webhook_secret="")
    payment_id = stored_payment(redis_client, settings, "stripe")
    with TestClient(create_app(unsigned), raise_server_exceptions=False) as api:
        assert_invalid_signature(stripe_post(api, intent_event(payment_id)))


def test_a_signed_body_that_is_not_utf8_is_refused_not_a_500(api: TestClient) -> None:
    body = b"\xff\xfe not text"
    header = f"t={int(time.time())},v1=" + "0" * 64

    response = api.post("/v1/webhooks/stripe", content=body, headers={"Stripe-Signature": header})

    assert_invalid_signature(response)


def test_an_event_for_a_payment_we_do_not_know_is_200_and_ignored(
    api: TestClient, redis_client: redis.Redis, settings: Settings
) -> None:
    unknown = keys.new_id(keys.PAYMENT_ID_PREFIX, 0)

    foreign = stripe_post(api, intent_event("pay_not_ours"))
    missing = stripe_post(api, intent_event(unknown))

    assert foreign.status_code == missing.status_code == 200
    assert event_messages(redis_client, settings, unknown) == []


def test_an_event_that_settles_nothing_is_200_and_ignored(
    api: TestClient, redis_client: redis.Redis, settings: Settings
) -> None:
    payment_id = stored_payment(redis_client, settings, "stripe")
    processing = json.loads(intent_event(payment_id))
    processing["type"] = "payment_intent.processing"
    processing["data"]["object"]["status"] = "processing"
    customer = {"id": "evt_c", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}

    for event in (processing, customer):
        assert stripe_post(api, json.dumps(event).encode()).status_code == 200

    assert event_messages(redis_client, settings, payment_id) == []


def test_a_body_over_256_kib_is_413(api: TestClient) -> None:
    body = b"{" + b" " * (256 * 1024) + b"}"

    response = api.post("/v1/webhooks/paystack", content=body)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_a_signed_paystack_event_is_taken_in_once(
    api: TestClient, redis_client: redis.Redis, settings: Settings
) -> None:
    payment_id = stored_payment(redis_client, settings, "paystack")

    charge_success_body = charge_success(payment_id)
    first = paystack_post(api, charge_success_body)
    replayed = paystack_post(api, charge_success_body)

    assert first.status_code == replayed.status_code == 200, first.text
    [message] = event_messages(redis_client, settings, payment_id)
    event = json.loads(message["args"][0])
    transaction_id = json.loads(charge_success_body)["data"]["id"]
    assert event["event_id"] == f"charge.success:{transaction_id}"
    assert event["payment_id"] == payment_id
    assert (event["amount"], event["currency"]) == (PAYSTACK.amount, "ngn")


@pytest.mark.parametrize(
    "signature",
    [None, "", "00" * 64, "forged"],
    ids=["missing", "empty", "zeros", "other-key"],
)
def test_a_paystack_event_without_its_signature_is_400_and_changes_nothing(
    api: TestClient, redis_client: redis.Redis, settings: Settings, signature: str | None
) -> None:
    payment_id = stored_payment(redis_client, settings, "paystack")
    body = charge_success(payment_id)

    if signature == "forged":
        response = paystack_post(api, body, key="sk_test_someone_else")
    else:
        headers = {} if signature is None else {"x-paystack-signature": signature}
        response = api.post("/v1/webhooks/paystack", content=body, headers=headers)

    assert_invalid_signature(response)
    assert event_messages(redis_client, settings, payment_id) == []


def test_webhooks_need_no_bearer_key_but_only_take_post(api: TestClient) -> None:
    response = api.get("/v1/webhooks/stripe")

    assert response.status_code == 405
