"""The public contract of POST/GET /v1/payments, on the real Redis."""

import concurrent.futures
import dataclasses
import json
import secrets
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from app.main import create_app
from app.merchants.api_keys import hash_api_key
from app.queue import keys
from app.queue.dispatch import CHARGE_ACTOR, PAYMENTS_QUEUE
from app.settings import Settings
from tests.app.conftest import Merchant, register_merchant
from tests.support.redis_server import RedisServer

BODY: dict[str, Any] = {
    "amount": 2500,
    "currency": "USD",
    "payment_method": "pm_card_visa",
    "customer": {"email": "ada@example.com"},
    "description": "Ticket #12",
    "metadata": {"order": "o_1"},
}


def new_key() -> str:
    return f"key-{secrets.token_hex(8)}"


def post(api: TestClient, merchant: Merchant, body: Any, key: str | None, **headers: str) -> Any:
    all_headers = {**merchant.headers, **headers}
    if key is not None:
        all_headers["Idempotency-Key"] = key
    return api.post(
        "/v1/payments",
        content=json.dumps(body),
        headers=all_headers | {"Content-Type": headers.get("content_type", "application/json")},
    )


def stream_entries(client: redis.Redis, payment_id: str, partitions: int) -> list[dict[str, Any]]:
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, partitions)
    assert partition is not None
    entries = client.xrange(keys.stream_key(partition, PAYMENTS_QUEUE))
    messages = [json.loads(fields[b"m"]) for _, fields in entries]
    return [message for message in messages if message["args"] == [payment_id]]


def test_a_stripe_customer_id_is_accepted_and_shown(api: TestClient, merchant: Merchant) -> None:
    body = BODY | {"customer": {"email": "ada@example.com", "id": "cus_Nf2x9Q"}}

    response = post(api, merchant, body, new_key())

    assert response.status_code == 202, response.text
    shown = api.get(f"/v1/payments/{response.json()['id']}", headers=merchant.headers).json()
    assert shown["customer"] == {"email": "ada@example.com", "id": "cus_Nf2x9Q"}


def test_new_payment_is_accepted_stored_and_published(
    api: TestClient, merchant: Merchant, redis_client: redis.Redis, settings: Settings
) -> None:
    response = post(api, merchant, BODY, new_key())

    assert response.status_code == 202
    payment = response.json()
    assert payment["id"].startswith("pay_")
    assert response.headers["location"] == f"/v1/payments/{payment['id']}"
    assert "idempotent-replayed" not in response.headers
    assert payment["object"] == "payment"
    assert payment["status"] == "pending"
    assert (payment["amount"], payment["currency"], payment["provider"]) == (2500, "usd", "stripe")
    assert "payment_method" not in payment
    messages = stream_entries(redis_client, payment["id"], settings.stream_partitions)
    assert len(messages) == 1
    assert (messages[0]["actor_name"], messages[0]["queue_name"]) == (CHARGE_ACTOR, PAYMENTS_QUEUE)
    fetched = api.get(response.headers["location"], headers=merchant.headers)
    assert fetched.status_code == 200
    assert fetched.json() == payment


def test_provider_defaults_by_currency(api: TestClient, merchant: Merchant) -> None:
    body = {**BODY, "currency": "ngn", "payment_method": "AUTH_success"}

    response = post(api, merchant, body, new_key())

    assert response.status_code == 202
    assert response.json()["provider"] == "paystack"


def test_replay_returns_the_first_answer_and_publishes_nothing_more(
    api: TestClient, merchant: Merchant, redis_client: redis.Redis, settings: Settings
) -> None:
    key = new_key()
    first = post(api, merchant, BODY, key)
    reordered = dict(reversed(list(BODY.items())))

    replay = post(api, merchant, reordered | {"currency": "usd"}, key)

    assert replay.status_code == first.status_code == 202
    assert replay.content == first.content
    assert replay.headers["location"] == first.headers["location"]
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(stream_entries(redis_client, first.json()["id"], settings.stream_partitions)) == 1


def test_concurrent_duplicates_make_one_payment(
    api: TestClient, merchant: Merchant, redis_client: redis.Redis, settings: Settings
) -> None:
    key = new_key()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: post(api, merchant, BODY, key), range(16)))

    assert {response.status_code for response in responses} == {202}
    assert len({response.content for response in responses}) == 1
    replayed = [response for response in responses if "idempotent-replayed" in response.headers]
    assert len(replayed) == 15
    payment_id = responses[0].json()["id"]
    assert len(stream_entries(redis_client, payment_id, settings.stream_partitions)) == 1


def test_same_key_from_another_merchant_is_another_payment(
    api: TestClient, merchant: Merchant, other_merchant: Merchant
) -> None:
    key = new_key()

    first = post(api, merchant, BODY, key)
    second = post(api, other_merchant, BODY, key)

    assert second.status_code == 202
    assert "idempotent-replayed" not in second.headers
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize(
    "change",
    [{"amount": 2501}, {"payment_method": "pm_card_chargeDeclined"}, {"customer": {}}],
)
def test_same_key_with_another_payload_is_422(
    api: TestClient, merchant: Merchant, change: dict[str, Any]
) -> None:
    key = new_key()
    post(api, merchant, BODY, key)

    response = post(api, merchant, BODY | change, key)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_reused"
    assert key in response.json()["detail"]


def test_quoted_key_and_alias_header_name_the_same_key(api: TestClient, merchant: Merchant) -> None:
    key = new_key()
    first = post(api, merchant, BODY, f'"{key}"')

    replay = api.post(
        "/v1/payments",
        content=json.dumps(BODY),
        headers={**merchant.headers, "X-Idempotency-Key": key, "Content-Type": "application/json"},
    )

    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "idempotency_key_missing"),
        ("", "idempotency_key_invalid"),
        ("x" * 256, "idempotency_key_invalid"),
        ("has space", "idempotency_key_invalid"),
        ('"bad\\escape"', "idempotency_key_invalid"),
    ],
)
def test_bad_idempotency_keys_are_400_and_store_nothing(
    api: TestClient, merchant: Merchant, key: str | None, code: str
) -> None:
    response = post(api, merchant, BODY, key)

    assert response.status_code == 400
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": 100_000_000}, "amount"),
        ({"amount": 10.5}, "amount"),
        ({"amount": "10"}, "amount"),
        ({"amount": True}, "amount"),
        ({"currency": "usdx"}, "currency"),
        ({"currency": "zzz"}, "currency"),
        ({"provider": "paypal"}, "provider"),
        ({"payment_method": "AUTH_success"}, "payment_method"),
        ({"payment_method": 7}, "payment_method"),
        ({"customer": "ada"}, "customer"),
        ({"customer": {"email": "not-an-email"}}, "customer.email"),
        ({"customer": {"phone": "1"}}, "customer.phone"),
        ({"customer": {"id": "acct_1"}}, "customer.id"),
        ({"customer": {"id": "cus_a b"}}, "customer.id"),
        ({"customer": {"id": 7}}, "customer.id"),
        ({"description": "d" * 501}, "description"),
        ({"metadata": {"k": 1}}, "metadata.k"),
        ({"metadata": {"k" * 41: "v"}}, "metadata"),
        ({"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
        ({"surprise": 1}, "surprise"),
        ({"currency": "ngn", "payment_method": "AUTH_success", "customer": {}}, "customer.email"),
        (
            {
                "currency": "ngn",
                "payment_method": "AUTH_success",
                "customer": {"email": "ada@example.com", "id": "cus_1"},
            },
            "customer.id",
        ),
    ],
)
def test_invalid_bodies_are_400_naming_the_field_and_enqueue_nothing(
    api: TestClient, merchant: Merchant, change: dict[str, Any], field: str
) -> None:
    key = new_key()

    response = post(api, merchant, BODY | change, key)

    assert response.status_code == 400
    problem = response.json()
    assert (problem["code"], problem["field"], problem["status"]) == ("invalid_request", field, 400)
    assert set(problem) >= {"type", "title", "status", "detail", "code"}
    # Nothing was claimed: the same key now works with a valid body.
    assert "idempotent-replayed" not in post(api, merchant, BODY, key).headers


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'{"amount": NaN}', b'{"amount": 1, "amount": 2}', b"\xff"]
)
def test_malformed_json_is_400(api: TestClient, merchant: Merchant, raw: bytes) -> None:
    response = api.post(
        "/v1/payments",
        content=raw,
        headers={
            **merchant.headers,
            "Idempotency-Key": new_key(),
            "Content-Type": "application/json",
        },
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_body_over_64_kib_is_413(api: TestClient, merchant: Merchant) -> None:
    body = BODY | {"description": "d" * (64 * 1024)}

    response = post(api, merchant, body, new_key())

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_non_json_content_type_is_415(api: TestClient, merchant: Merchant) -> None:
    response = api.post(
        "/v1/payments",
        content="amount=1",
        headers={**merchant.headers, "Idempotency-Key": new_key(), "Content-Type": "text/plain"},
    )

    assert response.status_code == 415


@pytest.mark.parametrize("authorization", [None, "Bearer psk_nope", "Basic abc", "Bearer "])
def test_missing_or_wrong_api_key_is_401(api: TestClient, authorization: str | None) -> None:
    headers = {"Idempotency-Key": new_key(), "Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization

    response = api.post("/v1/payments", content=json.dumps(BODY), headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert api.get("/v1/payments/pay_x", headers=headers).status_code == 401


def test_another_merchants_payment_is_404_like_a_missing_one(
    api: TestClient, merchant: Merchant, other_merchant: Merchant
) -> None:
    payment_id = post(api, merchant, BODY, new_key()).json()["id"]

    theirs = api.get(f"/v1/payments/{payment_id}", headers=other_merchant.headers)
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, 256)
    assert partition is not None
    never_made = keys.new_id(keys.PAYMENT_ID_PREFIX, partition)
    missing = api.get(f"/v1/payments/{never_made}", headers=merchant.headers)
    malformed = api.get("/v1/payments/pay_nope", headers=merchant.headers)

    assert [r.status_code for r in (theirs, missing, malformed)] == [404, 404, 404]
    assert {r.json()["code"] for r in (theirs, missing, malformed)} == {"not_found"}


def test_a_failing_publish_claims_no_key(
    api: TestClient, merchant: Merchant, redis_client: redis.Redis, settings: Settings
) -> None:
    """The accept is one step: if the XADD fails, neither the key nor the record exists."""
    key = new_key()
    partition = keys.partition_for(f"{merchant.merchant_id}:{key}", settings.stream_partitions)
    stream = keys.stream_key(partition, PAYMENTS_QUEUE)
    records = f"{keys.tag(partition)}:pay:*"
    records_before = set(redis_client.scan_iter(match=records, count=1000))
    saved = redis_client.dump(stream)
    redis_client.delete(stream)
    redis_client.set(stream, "not a stream")
    try:
        broken = post(api, merchant, BODY, key)
    finally:
        redis_client.delete(stream)
        if saved is not None:
            redis_client.restore(stream, 0, saved)

    assert broken.status_code == 500
    assert broken.json()["code"] == "internal_error"
    assert not redis_client.exists(keys.idempotency_key(partition, merchant.merchant_id, key))
    # Other tests may share this Redis: only this merchant's records count.
    created = set(redis_client.scan_iter(match=records, count=1000)) - records_before
    owners = {
        json.loads(redis_client.hget(key, "data") or "{}").get("merchant_id") for key in created
    }
    assert merchant.merchant_id not in owners
    retried = post(api, merchant, BODY, key)
    assert retried.status_code == 202
    assert "idempotent-replayed" not in retried.headers


def test_redis_down_is_503_with_retry_after(settings: Settings, merchant: Merchant) -> None:
    unreachable = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(unreachable), raise_server_exceptions=False) as api:
        response = post(api, merchant, BODY, new_key())

    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert response.headers["retry-after"] == "1"


def test_unknown_route_and_method_are_problems(api: TestClient) -> None:
    assert api.get("/v2/nothing").json()["code"] == "not_found"
    assert api.delete("/v1/payments").status_code == 405


def test_after_a_redis_outage_the_same_key_works_normally(
    settings: Settings, private_redis: RedisServer
) -> None:
    """A 503 claimed nothing: once Redis is back, the key makes its first, only payment."""
    config = dataclasses.replace(settings, redis_url=private_redis.url)
    client = redis.Redis.from_url(private_redis.url)
    merchant = register_merchant(client)
    key = new_key()
    with TestClient(create_app(config), raise_server_exceptions=False) as api:
        private_redis.stop()
        during = post(api, merchant, BODY, key)
        private_redis.start()
        # This Redis keeps nothing across restarts (no AOF): put the key hash back.
        client.hset(keys.AUTH_KEY, hash_api_key(merchant.api_key), merchant.merchant_id)
        after = post(api, merchant, BODY, key)
        replay = post(api, merchant, BODY, key)
    client.close()

    assert (during.status_code, during.json()["code"]) == (503, "unavailable")
    assert after.status_code == 202
    assert "idempotent-replayed" not in after.headers
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == after.content


def test_an_integral_json_number_is_an_amount(api: TestClient, merchant: Merchant) -> None:
    # JSON has one number type, and JSON Schema (so the OpenAPI document) calls 2500.0 an
    # integer: the same payment as 2500, fingerprint included.
    key = new_key()
    first = post(api, merchant, BODY | {"amount": 2500.0}, key)
    again = post(api, merchant, BODY, key)

    assert first.status_code == 202, first.text
    assert first.json()["amount"] == 2500
    assert again.headers["idempotent-replayed"] == "true"
