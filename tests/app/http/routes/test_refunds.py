"""The public contract of POST /v1/payments/{id}/refunds and GET /v1/refunds/{id}, on the real
Redis: the reservation against what remains is atomic, so refunds can never exceed a payment."""

import concurrent.futures
import json
import secrets
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from app.payments.record import Step
from app.queue import keys
from app.queue.dispatch import PAYMENTS_QUEUE, REFUND_ACTOR
from app.settings import Settings
from tests.app.conftest import Merchant

AMOUNT = 2500
JSON = "application/json"
PAYMENT: dict[str, Any] = {"amount": AMOUNT, "currency": "usd", "payment_method": "pm_card_visa"}


def new_key() -> str:
    return f"key-{secrets.token_hex(8)}"


def another_id(object_id: str) -> str:
    """A well-formed id on the same partition that is not ``object_id``."""
    last = "1" if object_id.endswith("0") else "0"
    return object_id[:-1] + last


def payment_hash(payment_id: str, settings: Settings) -> str:
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, settings.stream_partitions)
    assert partition is not None
    return keys.payment_key(partition, payment_id)


def payment_at(
    api: TestClient, merchant: Merchant, client: redis.Redis, settings: Settings, step: Step
) -> str:
    """A payment accepted through the API, then moved to ``step`` as the charge actor would."""
    response = api.post(
        "/v1/payments",
        content=json.dumps(PAYMENT),
        headers=merchant.headers | {"Idempotency-Key": new_key(), "Content-Type": JSON},
    )
    assert response.status_code == 202
    payment_id: str = response.json()["id"]
    fields = {"step": step.value, "provider_reference": f"pi_{secrets.token_hex(6)}"}
    client.hset(payment_hash(payment_id, settings), mapping=fields)
    return payment_id


@pytest.fixture
def payment_id(
    api: TestClient, merchant: Merchant, redis_client: redis.Redis, settings: Settings
) -> str:
    return payment_at(api, merchant, redis_client, settings, Step.RECORDED)


def refund(api: TestClient, merchant: Merchant, payment_id: str, body: Any, key: str | None) -> Any:
    headers = merchant.headers | {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.post(f"/v1/payments/{payment_id}/refunds", content=content, headers=headers)


def reserved(client: redis.Redis, settings: Settings, payment_id: str) -> int:
    raw = client.hget(payment_hash(payment_id, settings), "amount_refund_pending")
    return int(raw or 0)


def refund_messages(client: redis.Redis, settings: Settings, refund_id: str) -> list[Any]:
    partition = keys.partition_of(refund_id, keys.REFUND_ID_PREFIX, settings.stream_partitions)
    assert partition is not None
    entries = client.xrange(keys.stream_key(partition, PAYMENTS_QUEUE))
    messages = [json.loads(fields[b"m"]) for _, fields in entries]
    return [message for message in messages if message["args"] == [refund_id]]


def test_a_refund_is_accepted_reserved_and_published(
    api: TestClient,
    merchant: Merchant,
    redis_client: redis.Redis,
    settings: Settings,
    payment_id: str,
) -> None:
    response = refund(api, merchant, payment_id, {"amount": 1000}, new_key())

    assert response.status_code == 202
    body = response.json()
    assert body["id"].startswith(keys.REFUND_ID_PREFIX)
    assert response.headers["location"] == f"/v1/refunds/{body['id']}"
    assert "idempotent-replayed" not in response.headers
    assert {key: body[key] for key in ("object", "status", "amount", "currency", "payment")} == {
        "object": "refund",
        "status": "pending",
        "amount": 1000,
        "currency": "usd",
        "payment": payment_id,
    }
    partitions = settings.stream_partitions
    assert keys.partition_of(body["id"], keys.REFUND_ID_PREFIX, partitions) == keys.partition_of(
        payment_id, keys.PAYMENT_ID_PREFIX, partitions
    )
    assert reserved(redis_client, settings, payment_id) == 1000
    [message] = refund_messages(redis_client, settings, body["id"])
    assert (message["actor_name"], message["queue_name"]) == (REFUND_ACTOR, PAYMENTS_QUEUE)
    fetched = api.get(response.headers["location"], headers=merchant.headers)
    assert fetched.status_code == 200
    assert fetched.content == response.content


def test_a_charged_payment_not_yet_recorded_is_refundable(
    api: TestClient, merchant: Merchant, redis_client: redis.Redis, settings: Settings
) -> None:
    payment_id = payment_at(api, merchant, redis_client, settings, Step.CHARGED)

    assert refund(api, merchant, payment_id, {}, new_key()).status_code == 202


def test_replay_returns_the_first_answer_and_reserves_nothing_more(
    api: TestClient,
    merchant: Merchant,
    redis_client: redis.Redis,
    settings: Settings,
    payment_id: str,
) -> None:
    key = new_key()
    first = refund(api, merchant, payment_id, {"amount": 700}, key)

    replay = refund(api, merchant, payment_id, {"amount": 700}, f'"{key}"')

    assert replay.status_code == first.status_code == 202
    assert replay.content == first.content
    assert replay.headers["location"] == first.headers["location"]
    assert replay.headers["idempotent-replayed"] == "true"
    assert reserved(redis_client, settings, payment_id) == 700
    assert len(refund_messages(redis_client, settings, first.json()["id"])) == 1


@pytest.mark.parametrize("second_body", [{"amount": 701}, {}], ids=["amount", "default"])
def test_same_key_with_another_payload_is_422(
    api: TestClient, merchant: Merchant, payment_id: str, second_body: dict[str, Any]
) -> None:
    key = new_key()
    refund(api, merchant, payment_id, {"amount": 700}, key)

    response = refund(api, merchant, payment_id, second_body, key)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


def test_same_key_on_another_payment_is_another_refund(
    api: TestClient,
    merchant: Merchant,
    redis_client: redis.Redis,
    settings: Settings,
    payment_id: str,
) -> None:
    """Refund keys are scoped to the payment they were sent to (its path)."""
    other_payment_id = payment_at(api, merchant, redis_client, settings, Step.RECORDED)
    key = new_key()

    first = refund(api, merchant, payment_id, {"amount": 100}, key)
    second = refund(api, merchant, other_payment_id, {"amount": 100}, key)

    assert (first.status_code, second.status_code) == (202, 202)
    assert "idempotent-replayed" not in second.headers
    assert second.json()["payment"] == other_payment_id


def test_more_than_the_payment_is_400_and_reserves_nothing(
    api: TestClient,
    merchant: Merchant,
    redis_client: redis.Redis,
    settings: Settings,
    payment_id: str,
) -> None:
    key = new_key()
    response = refund(api, merchant, payment_id, {"amount": AMOUNT + 1}, key)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "refund_exceeds_payment"
    assert reserved(redis_client, settings, payment_id) == 0
    # Refusals are not stored against the key: it may be used again.
    assert refund(api, merchant, payment_id, {"amount": AMOUNT}, key).status_code == 202


def test_default_is_what_remains_then_nothing_remains(
    api: TestClient,
    merchant: Merchant,
    redis_client: redis.Redis,
    settings: Settings,
    payment_id: str,
) -> None:
    partial = refund(api, merchant, payment_id, {"amount": 1000}, new_key())
    rest = refund(api, merchant, payment_id, {}, new_key())
    empty_body = refund(api, merchant, payment_id, b"", new_key())
    one_more = refund(api, merchant, payment_id, {"amount": 1}, new_key())

    assert (partial.status_code, rest.status_code) == (202, 202)
    assert rest.json()["amount"] == AMOUNT - 1000
    assert reserved(redis_client, settings, payment_id) == AMOUNT
    assert (empty_body.status_code, one_more.status_code) == (400, 400)
    assert {empty_body.json()["code"], one_more.json()["code"]} == {"refund_exceeds_payment"}


def test_what_remains_excludes_recorded_refunds(
    api: TestClient,
    merchant: Merchant,
    redis_client: redis.Redis,
    settings: Settings,
    payment_id: str,
) -> None:
    redis_client.hset(payment_hash(payment_id, settings), "amount_refunded", 2000)

    response = refund(api, merchant, payment_id, {}, new_key())

    assert response.status_code == 202
    assert response.json()["amount"] == AMOUNT - 2000


def test_concurrent_refunds_never_exceed_the_payment(
    api: TestClient,
    merchant: Merchant,
    redis_client: redis.Redis,
    settings: Settings,
    payment_id: str,
) -> None:
    thirty_percent = AMOUNT * 30 // 100

    def ask(_: int) -> Any:
        return refund(api, merchant, payment_id, {"amount": thirty_percent}, new_key())

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(ask, range(10)))

    codes = sorted(response.status_code for response in responses)
    assert codes == [202] * 3 + [400] * 7
    refused = [response.json()["code"] for response in responses if response.status_code == 400]
    assert set(refused) == {"refund_exceeds_payment"}
    assert reserved(redis_client, settings, payment_id) == 3 * thirty_percent <= AMOUNT


@pytest.mark.parametrize("step", [Step.ACCEPTED, Step.CHARGING, Step.DECLINED])
def test_a_payment_that_has_not_succeeded_is_not_refundable(
    api: TestClient,
    merchant: Merchant,
    redis_client: redis.Redis,
    settings: Settings,
    step: Step,
) -> None:
    payment_id = payment_at(api, merchant, redis_client, settings, step)

    response = refund(api, merchant, payment_id, {}, new_key())

    assert response.status_code == 400
    assert response.json()["code"] == "payment_not_refundable"
    assert reserved(redis_client, settings, payment_id) == 0


def test_another_merchants_or_an_unknown_payment_is_404(
    api: TestClient, merchant: Merchant, other_merchant: Merchant, payment_id: str
) -> None:
    theirs = refund(api, other_merchant, payment_id, {}, new_key())
    missing = refund(api, merchant, another_id(payment_id), {}, new_key())
    malformed = refund(api, merchant, "pay_nope", {}, new_key())

    assert [r.status_code for r in (theirs, missing, malformed)] == [404, 404, 404]
    assert {r.json()["code"] for r in (theirs, missing, malformed)} == {"not_found"}


def test_another_merchants_or_an_unknown_refund_is_404(
    api: TestClient, merchant: Merchant, other_merchant: Merchant, payment_id: str
) -> None:
    refund_id = refund(api, merchant, payment_id, {}, new_key()).json()["id"]

    theirs = api.get(f"/v1/refunds/{refund_id}", headers=other_merchant.headers)
    missing = api.get(f"/v1/refunds/{another_id(refund_id)}", headers=merchant.headers)
    malformed = api.get("/v1/refunds/re_nope", headers=merchant.headers)
    a_payment_id = api.get(f"/v1/refunds/{payment_id}", headers=merchant.headers)

    assert [r.status_code for r in (theirs, missing, malformed, a_payment_id)] == [404] * 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 10, "currency": "usd"}, "currency"),
        ({"amount": "10"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": None}, "amount"),
        ({"amount": 1.5}, "amount"),
    ],
)
def test_invalid_bodies_are_400_naming_the_field_and_reserve_nothing(
    api: TestClient,
    merchant: Merchant,
    redis_client: redis.Redis,
    settings: Settings,
    payment_id: str,
    body: dict[str, Any],
    field: str,
) -> None:
    response = refund(api, merchant, payment_id, body, new_key())

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_request", field)
    assert reserved(redis_client, settings, payment_id) == 0


def test_idempotency_key_and_api_key_are_required(
    api: TestClient, merchant: Merchant, payment_id: str
) -> None:
    missing_key = refund(api, merchant, payment_id, {}, None)
    bad_key = refund(api, merchant, payment_id, {}, "has space")
    anonymous = api.post(
        f"/v1/payments/{payment_id}/refunds",
        content=b"{}",
        headers={"Idempotency-Key": new_key(), "Content-Type": "application/json"},
    )

    assert missing_key.json()["code"] == "idempotency_key_missing"
    assert bad_key.json()["code"] == "idempotency_key_invalid"
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")
    assert api.get("/v1/refunds/re_x").status_code == 401


@pytest.mark.parametrize(
    ("amount_refunded", "status"),
    [(0, "succeeded"), (1, "partially_refunded"), (AMOUNT, "refunded")],
)
def test_the_payment_reads_as_refunded_from_its_recorded_refunds(
    api: TestClient,
    merchant: Merchant,
    redis_client: redis.Redis,
    settings: Settings,
    payment_id: str,
    amount_refunded: int,
    status: str,
) -> None:
    redis_client.hset(payment_hash(payment_id, settings), "amount_refunded", amount_refunded)

    payment = api.get(f"/v1/payments/{payment_id}", headers=merchant.headers).json()

    assert (payment["status"], payment["amount_refunded"]) == (status, amount_refunded)


def test_openapi_documents_refunds(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()

    assert "post" in spec["paths"]["/v1/payments/{payment_id}/refunds"]
    assert "get" in spec["paths"]["/v1/refunds/{refund_id}"]


def test_no_body_needs_no_content_type_and_refunds_what_remains(
    api: TestClient, merchant: Merchant, payment_id: str
) -> None:
    headers = merchant.headers | {"Idempotency-Key": new_key()}

    response = api.post(f"/v1/payments/{payment_id}/refunds", headers=headers)

    assert response.status_code == 202, response.text
    assert response.json()["amount"] == AMOUNT


def test_a_body_without_its_content_type_is_still_415(
    api: TestClient, merchant: Merchant, payment_id: str
) -> None:
    headers = merchant.headers | {"Idempotency-Key": new_key()}

    response = api.post(f"/v1/payments/{payment_id}/refunds", content=b"{}", headers=headers)

    assert response.status_code == 415
