"""Each merchant's accept rate, enforced in the accept scripts on the real Redis: a storming
merchant is refused with 429 and nothing stored, while another merchant is not slowed at all."""

import dataclasses
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from app.main import create_app
from app.queue import keys
from app.settings import Settings
from tests.app.conftest import Merchant, register_merchant

PARTITIONS = 8
#: 2 accepts per second per partition: a storm of a few hundred requests is mostly refused.
MERCHANT_RATE_PER_S = 2 * PARTITIONS
STORM_REQUESTS = 200
#: The calm merchant's payments per partition: within its bucket, so each must be taken.
CALM_PER_PARTITION = 2
BODY = {"amount": 2500, "currency": "usd", "payment_method": "pm_card_visa"}


@pytest.fixture
def limited_api(settings: Settings) -> Iterator[TestClient]:
    limited = dataclasses.replace(
        settings, stream_partitions=PARTITIONS, merchant_accept_rate_per_s=MERCHANT_RATE_PER_S
    )
    with TestClient(create_app(limited), raise_server_exceptions=False) as client:
        yield client


def pay(api: TestClient, merchant: Merchant, key: str) -> Any:
    headers = merchant.headers | {"Idempotency-Key": key, "Content-Type": "application/json"}
    return api.post("/v1/payments", content=json.dumps(BODY), headers=headers)


def keys_per_partition(merchant: Merchant, per_partition: int) -> list[str]:
    """Fresh Idempotency-Keys, ``per_partition`` landing on each partition."""
    chosen: dict[int, list[str]] = {partition: [] for partition in range(PARTITIONS)}
    while any(len(found) < per_partition for found in chosen.values()):
        key = f"calm-{secrets.token_hex(8)}"
        partition = keys.partition_for(f"{merchant.merchant_id}:{key}", PARTITIONS)
        if len(chosen[partition]) < per_partition:
            chosen[partition].append(key)
    return [key for found in chosen.values() for key in found]


def test_a_storming_merchant_is_limited_while_another_is_accepted(
    limited_api: TestClient, redis_client: redis.Redis
) -> None:
    storming, calm = register_merchant(redis_client), register_merchant(redis_client)
    calm_keys = iter(keys_per_partition(calm, CALM_PER_PARTITION))
    storm_statuses: list[int] = []
    calm_statuses: list[int] = []
    refused: list[tuple[str, Any]] = []

    for index in range(STORM_REQUESTS):
        key = f"storm-{index}-{secrets.token_hex(4)}"
        response = pay(limited_api, storming, key)
        storm_statuses.append(response.status_code)
        if response.status_code == 429:
            refused.append((key, response))
        calm_key = next(calm_keys, None)
        if calm_key is not None:
            calm_statuses.append(pay(limited_api, calm, calm_key).status_code)

    assert calm_statuses == [202] * PARTITIONS * CALM_PER_PARTITION
    assert storm_statuses.count(202) < STORM_REQUESTS // 2
    assert storm_statuses.count(202) + storm_statuses.count(429) == STORM_REQUESTS
    key, response = refused[0]
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1
    # Nothing was stored for a refused accept: its key is free, no payment was listed.
    partition = keys.partition_for(f"{storming.merchant_id}:{key}", PARTITIONS)
    assert not redis_client.exists(keys.idempotency_key(partition, storming.merchant_id, key))
    listed = sum(
        redis_client.zcard(keys.list_key(partition, storming.merchant_id)) - 1
        for partition in range(PARTITIONS)
        if redis_client.exists(keys.list_key(partition, storming.merchant_id))
    )
    assert listed == storm_statuses.count(202)


def test_refunds_draw_on_the_same_rate(limited_api: TestClient, redis_client: redis.Redis) -> None:
    merchant = register_merchant(redis_client)
    [key] = keys_per_partition(merchant, 1)[:1]
    payment = pay(limited_api, merchant, key).json()
    statuses = []

    for _ in range(MERCHANT_RATE_PER_S):
        headers = merchant.headers | {"Idempotency-Key": f"refund-{secrets.token_hex(6)}"}
        response = limited_api.post(
            f"/v1/payments/{payment['id']}/refunds", json={}, headers=headers
        )
        statuses.append(response.status_code)

    # The payment has not succeeded, so a refund the rate lets through is a 400; the rest 429.
    assert 429 in statuses
    assert set(statuses) <= {400, 429}


def test_a_zero_rate_is_no_limit(settings: Settings, redis_client: redis.Redis) -> None:
    unlimited = dataclasses.replace(settings, merchant_accept_rate_per_s=0)
    merchant = register_merchant(redis_client)
    with TestClient(create_app(unlimited), raise_server_exceptions=False) as api:
        statuses = {pay(api, merchant, secrets.token_hex(8)).status_code for _ in range(50)}
    assert statuses == {202}
