"""An in-process app on the real Redis, with a merchant whose key is registered there."""

import dataclasses
import secrets
from collections.abc import Iterator

import pytest
import redis
from starlette.testclient import TestClient

from app.main import create_app
from app.merchants.api_keys import hash_api_key, new_api_key
from app.queue import keys
from app.settings import Settings, load


@dataclasses.dataclass(frozen=True)
class Merchant:
    merchant_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def register_merchant(client: redis.Redis) -> Merchant:
    merchant = Merchant(f"mer_test{secrets.token_hex(6)}", new_api_key())
    client.hset(keys.AUTH_KEY, hash_api_key(merchant.api_key), merchant.merchant_id)
    return merchant


@pytest.fixture
def settings(redis_url: str, database_url: str) -> Settings:
    return dataclasses.replace(load(), redis_url=redis_url, database_url=database_url)


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def merchant(redis_client: redis.Redis) -> Merchant:
    return register_merchant(redis_client)


@pytest.fixture
def other_merchant(redis_client: redis.Redis) -> Merchant:
    return register_merchant(redis_client)
