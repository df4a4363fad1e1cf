"""Each merchant's accepts per second: a token bucket checked inside the accept scripts.

A merchant's payments spread over every stream partition (by Idempotency-Key), and an accept
script may only touch keys of its own partition (one Redis Cluster slot), so the bucket is one
per merchant and partition, each filled at ``rate / partitions``. With keys spread evenly, as
random keys are, the merchant gets its whole rate; a client that crowds one partition gets
less there first, which is the load it puts on that one slot anyway.
"""

import math
from dataclasses import dataclass
from pathlib import Path

from app.errors import RateLimited

ACCEPT_RATE_LUA_PATH = Path(__file__).with_name("accept_rate.lua")
#: A bucket holds this long at its rate: what a merchant may send at once after a quiet spell.
BURST_S = 1.0
#: What the script answers when a token was taken.
ADMITTED = 0


@dataclass(frozen=True)
class AcceptRate:
    """The per-partition bucket of every merchant: tokens per second and the most it holds."""

    rate_per_s: float
    burst: float

    @classmethod
    def per_partition(cls, merchant_rate_per_s: int, partitions: int) -> "AcceptRate":
        rate_per_s = merchant_rate_per_s / partitions
        # Never below one token, or a bucket could never admit anything.
        return cls(rate_per_s, max(1.0, rate_per_s * BURST_S))

    def arguments(self) -> list[str]:
        return [repr(self.rate_per_s), repr(self.burst)]


def refused(wait_ms: int) -> RateLimited:
    """The 429 for an accept the bucket refused, with whole seconds to wait (at least one)."""
    return RateLimited(
        "Too many accepts for this merchant; nothing was stored. Retry after the wait, with "
        "the same Idempotency-Key.",
        retry_after_s=max(1, math.ceil(wait_ms / 1000)),
    )
