"""Rate limits on provider calls, per provider and per provider account, shared by every worker
through Dramatiq's window rate limiter on Redis.

A call over the limit is not made: the actor defers its message to the next window (with
jitter, so a held-back crowd does not arrive together), outside its retry budget. The account
is named by a fingerprint of its secret key, never the key itself: providers meter each API key
separately, and the fingerprint can sit in a Redis key name without leaking the secret.
"""

import hashlib
import random
import time
from dataclasses import dataclass

import redis
from dramatiq.rate_limits import WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from actors.middleware.retries import Defer
from app.settings import Settings

#: Limits count calls over windows of this many seconds (Dramatiq sums per-second keys).
RATE_WINDOW_S = 1
#: A deferred call waits for the next window plus up to this much, at random.
DEFER_JITTER_MS_MAX = 500
#: Hex digits of SHA-256(secret key) that name an account: enough to keep accounts apart.
ACCOUNT_FINGERPRINT_HEX = 16


@dataclass(frozen=True)
class RateLimit:
    """Calls per second allowed to one provider as a whole and to each of its accounts; 0 is
    no limit."""

    provider_per_s: int
    account_per_s: int


def account_fingerprint(secret_key: str) -> str:
    return hashlib.sha256(secret_key.encode()).hexdigest()[:ACCOUNT_FINGERPRINT_HEX]


def rate_limits(config: Settings) -> dict[str, RateLimit]:
    return {
        "stripe": RateLimit(config.stripe_rate_per_s, config.stripe_account_rate_per_s),
        "paystack": RateLimit(config.paystack_rate_per_s, config.paystack_account_rate_per_s),
    }


def secret_keys(config: Settings) -> dict[str, str]:
    return {"stripe": config.stripe_secret_key, "paystack": config.paystack_secret_key}


def limiter(backend: RedisBackend, key: str, per_s: int) -> WindowRateLimiter:
    return WindowRateLimiter(backend, key, limit=per_s * RATE_WINDOW_S, window=RATE_WINDOW_S)


class Throttle:
    def __init__(self, client: redis.Redis, config: Settings) -> None:
        backend = RedisBackend(client=client)
        keys = secret_keys(config)
        self._limiters: dict[str, list[WindowRateLimiter]] = {}
        for provider, limit in rate_limits(config).items():
            # One hash tag per provider: the limiter's WATCH spans its keys, so on Redis
            # Cluster they must share a slot.
            account = account_fingerprint(keys[provider])
            chosen = [
                (f"{{ps:rate:{provider}}}:account:{account}", limit.account_per_s),
                (f"{{ps:rate:{provider}}}:all", limit.provider_per_s),
            ]
            self._limiters[provider] = [
                limiter(backend, key, per_s) for key, per_s in chosen if per_s > 0
            ]

    def admit(self, provider: str) -> None:
        """Return when a call to ``provider`` fits its limits; raise ``Defer`` when it does not."""
        for window in self._limiters[provider]:
            # A window slot is spent, not held: leaving the context gives nothing back.
            with window.acquire(raise_on_failure=False) as acquired:
                if not acquired:
                    raise Defer(f"{provider} rate limit reached", delay=next_window_delay_ms())


def next_window_delay_ms() -> int:
    window_ms = RATE_WINDOW_S * 1000
    until_next_ms = window_ms - int(time.time() * 1000) % window_ms
    return until_next_ms + random.randrange(DEFER_JITTER_MS_MAX)
