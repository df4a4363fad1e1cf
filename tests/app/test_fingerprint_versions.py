"""Fingerprints stay stable across releases: a key stored before a change of the accept code
must replay for its whole lifetime, never answer 422 to the same payload.

The key here is stored exactly as the accept script of the release before msgspec stored it,
with the fingerprint that release computed (written out below, not imported: importing today's
function would prove nothing). Should the canonical bytes ever change, the fingerprint must get a
new version and the old one stay accepted, or this test fails.
"""

import hashlib
import json
import secrets
from typing import Any

import redis
from starlette.testclient import TestClient

from app.queue import keys
from app.settings import Settings
from tests.app.conftest import Merchant

BODY = {
    "amount": 2500,
    "currency": "USD",
    "payment_method": "pm_card_visa",
    "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
    "description": "Ticket #12 — première",
    "metadata": {"order": "o_1"},
}
#: What that release validated BODY into, and hashed.
CANONICAL_V1 = {
    "amount": 2500,
    "currency": "usd",
    "provider": "stripe",
    "payment_method": "pm_card_visa",
    "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
    "description": "Ticket #12 — première",
    "metadata": {"order": "o_1"},
}
STORED_BODY = b'{"id":"pay_stored_before","object":"payment","status":"pending"}'


def v1_fingerprint(canonical: dict[str, object], operation: str) -> str:
    material = json.dumps(
        {"v": "v1", "op": operation, "body": canonical},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()
    return hashlib.sha256(material).hexdigest()


def store_v1_key(
    client: redis.Redis, settings: Settings, merchant: Merchant, client_key: str
) -> None:
    partition = keys.partition_for(
        f"{merchant.merchant_id}:{client_key}", settings.stream_partitions
    )
    client.hset(
        keys.idempotency_key(partition, merchant.merchant_id, client_key),
        mapping={
            "fingerprint": v1_fingerprint(CANONICAL_V1, "POST /v1/payments"),
            "status": 202,
            "body": STORED_BODY,
            "location": "/v1/payments/pay_stored_before",
            "entry": "1-0",
        },
    )


def send(api: TestClient, merchant: Merchant, client_key: str, body: object) -> Any:
    headers = merchant.headers | {"Idempotency-Key": client_key}
    return api.post("/v1/payments", json=body, headers=headers)


def test_a_key_stored_by_the_previous_release_replays(
    api: TestClient, merchant: Merchant, redis_client: redis.Redis, settings: Settings
) -> None:
    client_key = f"before-{secrets.token_hex(6)}"
    store_v1_key(redis_client, settings, merchant, client_key)

    response = send(api, merchant, client_key, BODY)

    assert response.status_code == 202, response.text
    assert response.content == STORED_BODY
    assert response.headers["idempotent-replayed"] == "true"


def test_another_payload_under_that_key_is_still_refused(
    api: TestClient, merchant: Merchant, redis_client: redis.Redis, settings: Settings
) -> None:
    client_key = f"before-{secrets.token_hex(6)}"
    store_v1_key(redis_client, settings, merchant, client_key)

    response = send(api, merchant, client_key, BODY | {"amount": 2501})

    assert response.status_code == 422
