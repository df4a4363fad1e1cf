"""Rate limits on provider calls, per provider and per provider account, shared by every worker
through one Lua script on Redis.

A call over a limit is not made: the actor defers its message to the next window (with jitter,
so a held-back crowd does not arrive together), outside its retry budget. The account is named
by a fingerprint of its secret key, never the key itself: providers meter each API key
separately, and the fingerprint can sit in a Redis key name without leaking the secret.

Dramatiq's own limiters count the same fixed windows, but through WATCH/MULTI loops: several
blocking round trips per call that cannot share a pipeline. One event loop admitting hundreds
of calls a second needs one script call each, batched with the rest of its Redis traffic, and
both limits checked in the same atomic step so a refusal by one never spends the other.
"""

import hashlib
import random
from pathlib import Path

from actors.middleware.retries import Defer
from app.queue.batch import Batcher
from app.queue.scripts import lua_source
from app.settings import Settings

ADMIT_LUA = lua_source(Path(__file__).parent / "lua", "admit")
#: Limits count calls over fixed windows of this many seconds.
RATE_WINDOW_S = 1
#: A deferred call waits for the next window plus up to this much, at random.
DEFER_JITTER_MS_MAX = 500
#: Hex digits of SHA-256(secret key) that name an account: enough to keep accounts apart.
ACCOUNT_FINGERPRINT_HEX = 16
ADMITTED = 1


def account_fingerprint(secret_key: str) -> str:
    return hashlib.sha256(secret_key.encode()).hexdigest()[:ACCOUNT_FINGERPRINT_HEX]


def provider_limits(config: Settings) -> dict[str, dict[str, int]]:
    """Per provider: limiter key → calls per second; a limit of 0 is no limit, so no key."""
    chosen = {
        "stripe": (
            config.stripe_secret_key,
            config.stripe_account_rate_per_s,
            config.stripe_rate_per_s,
        ),
        "paystack": (
            config.paystack_secret_key,
            config.paystack_account_rate_per_s,
            config.paystack_rate_per_s,
        ),
    }
    limits: dict[str, dict[str, int]] = {}
    for provider, (secret_key, account_per_s, provider_per_s) in chosen.items():
        # One hash tag per provider: both limits are checked by one script, in one slot.
        scopes = {
            f"{{ps:rate:{provider}}}:account:{account_fingerprint(secret_key)}": account_per_s,
            f"{{ps:rate:{provider}}}:all": provider_per_s,
        }
        limits[provider] = {key: per_s * RATE_WINDOW_S for key, per_s in scopes.items() if per_s}
    return limits


class Throttle:
    def __init__(self, batcher: Batcher, config: Settings) -> None:
        self._admit = batcher.script(ADMIT_LUA)
        self._limits = provider_limits(config)

    async def admit(self, provider: str, calls: int = 1) -> None:
        """Return when ``calls`` calls to ``provider`` fit its limits; raise ``Defer`` when not."""
        limits = self._limits[provider]
        if not limits:
            return
        answer = await self._admit(list(limits), [RATE_WINDOW_S, calls, *limits.values()])
        if answer != ADMITTED:
            delay_ms = int(answer) + random.randrange(DEFER_JITTER_MS_MAX)
            raise Defer(f"{provider} rate limit reached", delay=delay_ms)
