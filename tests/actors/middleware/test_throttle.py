"""Provider rate limits on the real Redis, shared through one admission script."""

import dataclasses
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

import app.settings
from actors.middleware.retries import Defer
from actors.middleware.throttle import (
    DEFER_JITTER_MS_MAX,
    RATE_WINDOW_S,
    Throttle,
    account_fingerprint,
    provider_limits,
)
from app.queue.batch import Batcher
from app.settings import Settings

ACCOUNT_PER_S = 5
PROVIDER_PER_S = 8


pytestmark = pytest.mark.anyio


@pytest.fixture
async def batcher(redis_url: str) -> AsyncIterator[Batcher]:
    client = aioredis.Redis.from_url(redis_url)
    yield Batcher(client)
    await client.aclose()


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


async def redis_window(batcher: Batcher) -> int:
    """The number of the window the Redis clock is in, as the admission script counts it."""
    seconds, microseconds = await batcher.command("TIME")
    return (int(seconds) * 1000 + int(microseconds) // 1000) // (RATE_WINDOW_S * 1000)


async def admitted(throttle: Throttle, provider: str, calls: int) -> int:
    count = 0
    for _ in range(calls):
        try:
            await throttle.admit(provider)
        except Defer as defer:
            assert defer.delay is not None
            assert 0 < defer.delay <= RATE_WINDOW_S * 1000 + DEFER_JITTER_MS_MAX
            continue
        count += 1
    return count


class Windows:
    """How many limit windows a block of calls spanned, read from the Redis clock, so the
    bounds below hold on a machine slow enough to spread the calls over several windows."""

    def __init__(self, batcher: Batcher) -> None:
        self._batcher = batcher
        self.spanned = 0

    async def __aenter__(self) -> "Windows":
        self._first = await redis_window(self._batcher)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.spanned = await redis_window(self._batcher) - self._first + 1


async def test_an_account_gets_its_limit_per_window_and_the_rest_is_deferred(
    batcher: Batcher, limits: Settings
) -> None:
    async with Windows(batcher) as windows:
        count = await admitted(Throttle(batcher, limits), "stripe", 30)

    # Whichever windows the 30 calls fall in, one of them saw the limit reached or all were let in.
    assert ACCOUNT_PER_S <= count <= ACCOUNT_PER_S * windows.spanned


async def test_the_provider_limit_spans_accounts(batcher: Batcher, limits: Settings) -> None:
    other_account = dataclasses.replace(limits, stripe_secret_key=f"{limits.stripe_secret_key}b")
    first = Throttle(batcher, limits)
    second = Throttle(batcher, other_account)

    async with Windows(batcher) as windows:
        total = await admitted(first, "stripe", 30) + await admitted(second, "stripe", 30)

    assert PROVIDER_PER_S <= total <= PROVIDER_PER_S * windows.spanned


async def test_a_zero_limit_is_no_limit(batcher: Batcher, limits: Settings) -> None:
    assert await admitted(Throttle(batcher, limits), "paystack", 200) == 200


async def test_limits_are_shared_by_every_process_on_the_redis(
    redis_url: str, batcher: Batcher, limits: Settings
) -> None:
    other_process = aioredis.Redis.from_url(redis_url)
    workers = [Throttle(Batcher(other_process), limits), Throttle(batcher, limits)]

    async with Windows(batcher) as windows:
        total = sum([await admitted(worker, "stripe", 20) for worker in workers])
    await other_process.aclose()

    assert ACCOUNT_PER_S <= total <= ACCOUNT_PER_S * windows.spanned


async def test_a_refusal_by_one_limit_spends_nothing_of_the_other(
    batcher: Batcher, limits: Settings
) -> None:
    """Both limits are checked in one step: calls the provider-wide limit refuses leave the
    account's window as it was."""
    tight = dataclasses.replace(limits, stripe_rate_per_s=1, stripe_account_rate_per_s=100)
    throttle = Throttle(batcher, tight)

    async with Windows(batcher) as windows:
        count = await admitted(throttle, "stripe", 10)

    assert 1 <= count <= windows.spanned
    account_key, provider_key = provider_limits(tight)["stripe"]
    # Every admission counts the same window on both keys, so any call the provider refused
    # but the account counted would leave the account's count above the provider's.
    account = await batcher.command("HMGET", account_key, "window", "calls")
    provider = await batcher.command("HMGET", provider_key, "window", "calls")
    assert account == provider
    assert int(provider[1]) == 1


def test_the_account_is_named_without_its_secret() -> None:
    secret = "sk_live_abcdef"

    fingerprint = account_fingerprint(secret)

    assert secret not in fingerprint
    assert fingerprint == account_fingerprint(secret) != account_fingerprint(secret + "x")
