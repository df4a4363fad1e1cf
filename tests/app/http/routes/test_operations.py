"""Liveness, readiness (with Redis durability and PostgreSQL reported), metrics, OpenAPI."""

import dataclasses
from collections.abc import Iterator

import pytest
import redis
from starlette.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.support.redis_server import RedisServer


@pytest.fixture
def private_api(settings: Settings, private_redis: RedisServer) -> Iterator[TestClient]:
    config = dataclasses.replace(settings, redis_url=private_redis.url)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield client


def test_healthz(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_a_redis_that_could_lose_acknowledged_writes(
    private_api: TestClient, private_redis: RedisServer
) -> None:
    client = redis.Redis.from_url(private_redis.url)
    client.config_set("appendonly", "no")
    risky = private_api.get("/readyz").json()
    client.config_set("appendonly", "yes")
    client.config_set("maxmemory-policy", "noeviction")
    durable = private_api.get("/readyz").json()
    client.close()

    assert risky["status"] == "ready"
    assert risky["redis_durability"]["may_lose_acknowledged_writes"] is True
    assert durable["redis_durability"] == {
        "appendonly": True,
        "maxmemory_policy": "noeviction",
        "may_lose_acknowledged_writes": False,
    }


def test_readyz_reports_postgres_down_without_failing(settings: Settings) -> None:
    config = dataclasses.replace(settings, database_url="postgresql://postgres@127.0.0.1:1/x")
    with TestClient(create_app(config)) as api:
        response = api.get("/readyz")

    assert response.status_code == 200
    assert (response.json()["redis"], response.json()["postgres"]) == ("ok", "unavailable")


def test_readyz_fails_when_redis_is_down(settings: Settings) -> None:
    config = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(config)) as api:
        response = api.get("/readyz")

    assert response.status_code == 503
    assert response.json()["redis"] == "unavailable"


def test_metrics_and_openapi(api: TestClient) -> None:
    assert "paystream_payments_accepted_total" in api.get("/metrics").text
    spec = api.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/v1/payments" in spec["paths"]
