"""Provider rate limits on the real Redis, through Dramatiq's window rate limiter."""

import dataclasses
import secrets
from collections.abc import Iterator

import pytest
import redis

import app.settings
from actors.middleware.retries import Defer
from actors.middleware.throttle import (
    DEFER_JITTER_MS_MAX,
    RATE_WINDOW_S,
    Throttle,
    account_fingerprint,
)
from app.settings import Settings

ACCOUNT_PER_S = 5
PROVIDER_PER_S = 8


@pytest.fixture
def limits(redis_client: redis.Redis) -> Iterator[Settings]:
    """Settings with small limits and a fresh pair of keys, so no other test shares a window."""
    config = dataclasses.replace(
        app.settings.load(),
        stripe_secret_key=f"sk_test_{secrets.token_hex(8)}",
        stripe_rate_per_s=PROVIDER_PER_S,
        stripe_account_rate_per_s=ACCOUNT_PER_S,
        paystack_secret_key=f"sk_test_{secrets.token_hex(8)}",
        paystack_rate_per_s=0,
        paystack_account_rate_per_s=0,
    )
    yield config
    for key in redis_client.scan_iter(match="{ps:rate:*"):
        redis_client.delete(key)


def admitted(throttle: Throttle, provider: str, calls: int) -> int:
    count = 0
    for _ in range(calls):
        try:
            throttle.admit(provider)
        except Defer as defer:
            assert defer.delay is not None
            assert 0 < defer.delay <= RATE_WINDOW_S * 1000 + DEFER_JITTER_MS_MAX
            continue
        count += 1
    return count


def test_an_account_gets_its_limit_per_window_and_the_rest_is_deferred(
    redis_client: redis.Redis, limits: Settings
) -> None:
    # Two windows at most are touched, however the calls fall across a second's edge.
    assert (
        ACCOUNT_PER_S
        <= admitted(Throttle(redis_client, limits), "stripe", 30)
        <= (2 * ACCOUNT_PER_S)
    )


def test_the_provider_limit_spans_accounts(redis_client: redis.Redis, limits: Settings) -> None:
    other_account = dataclasses.replace(limits, stripe_secret_key=f"{limits.stripe_secret_key}b")
    first = Throttle(redis_client, limits)
    second = Throttle(redis_client, other_account)

    total = admitted(first, "stripe", 30) + admitted(second, "stripe", 30)

    assert PROVIDER_PER_S <= total <= 2 * PROVIDER_PER_S


def test_a_zero_limit_is_no_limit(redis_client: redis.Redis, limits: Settings) -> None:
    assert admitted(Throttle(redis_client, limits), "paystack", 200) == 200


def test_limits_are_shared_by_every_process_on_the_redis(
    redis_client: redis.Redis, limits: Settings
) -> None:
    workers = [Throttle(redis.Redis(connection_pool=redis_client.connection_pool), limits)]
    workers.append(Throttle(redis_client, limits))

    total = sum(admitted(worker, "stripe", 20) for worker in workers)

    assert ACCOUNT_PER_S <= total <= 2 * ACCOUNT_PER_S


def test_the_account_is_named_without_its_secret() -> None:
    secret = "sk_live_abcdef"

    fingerprint = account_fingerprint(secret)

    assert secret not in fingerprint
    assert fingerprint == account_fingerprint(secret) != account_fingerprint(secret + "x")
