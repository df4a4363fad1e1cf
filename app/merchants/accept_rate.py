"""Each merchant's accepts per second: a token bucket checked inside the accept scripts.

A merchant's payments spread over every stream partition (by Idempotency-Key), and an accept
script may only touch keys of its own partition (one Redis Cluster slot), so the bucket is one
per merchant and partition, each filled at ``rate / partitions``. With keys spread evenly, as
random keys are, the merchant gets its whole rate; a client that crowds one partition gets
less there first, which is the load it puts on that one slot anyway.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.errors import RateLimited
from app.queue import keys
from app.queue.batch import Batcher
from app.queue.connection import unavailable_as_503
from app.settings import Settings

ACCEPT_RATE_LUA_PATH = Path(__file__).with_name("accept_rate.lua")
#: A bucket holds this long at its rate: what a merchant may send at once after a quiet spell.
BURST_S = 1.0
#: What the script answers when a token was taken.
ADMITTED = 0
#: What an accept script answers, with the milliseconds to wait, when the bucket is empty.
REFUSED = b"rate_limited"


@dataclass(frozen=True)
class AcceptRate:
    """The per-partition bucket of every merchant: tokens per second and the most it holds."""

    rate_per_s: float
    burst: float

    @classmethod
    def per_partition(cls, settings: Settings) -> "AcceptRate":
        rate_per_s = settings.merchant_accept_rate_per_s / settings.stream_partitions
        # Never below one token, or a bucket could never admit anything.
        return cls(rate_per_s, max(1.0, rate_per_s * BURST_S))

    def arguments(self) -> list[str]:
        """The script's two arguments for the bucket."""
        return [repr(self.rate_per_s), repr(self.burst)]


class RateLimitedScript:
    """An accept script that takes the merchant's token first (``accept_rate.lua``): the
    bucket's key and arguments follow the caller's, a Redis outage is the 503, an empty bucket
    the 429."""

    def __init__(self, batcher: Batcher, source: str, settings: Settings) -> None:
        self._script = batcher.script(source, replicated=True)
        self._rate = AcceptRate.per_partition(settings).arguments()

    async def __call__(
        self,
        merchant_id: str,
        partition: int,
        script_keys: list[str],
        arguments: list[object],
        tail: Sequence[object] = (),
    ) -> list[bytes]:
        bucket = keys.accept_rate_key(partition, merchant_id)
        with unavailable_as_503():
            result: list[bytes] = await self._script(
                [*script_keys, bucket], [*arguments, *self._rate, *tail]
            )
        if result[0] == REFUSED:
            raise refused(int(result[1]))
        return result


def refused(wait_ms: int) -> RateLimited:
    """The 429 for an accept the bucket refused, with whole seconds to wait (at least one)."""
    return RateLimited(
        "Too many accepts for this merchant; nothing was stored. Retry after the wait, with "
        "the same Idempotency-Key.",
        retry_after_s=max(1, math.ceil(wait_ms / 1000)),
    )
