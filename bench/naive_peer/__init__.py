"""The naive peer: what a team would write in an afternoon with stock Dramatiq.

    python -m dramatiq bench.naive_peer                 # Dramatiq's default processes and threads
    python -m bench.naive_peer.enqueue --count N --prefix P [--paystack-percent 10]

Stock ``RedisBroker``, one actor per payment: the provider call(s) over one pooled sync httpx
client per process, then one INSERT per payment on a per-thread autocommit connection. No
recovery points, no batching, no artificial waits. Environment: REDIS_URL, DATABASE_URL,
STRIPE_API_BASE, PAYSTACK_API_BASE, STRIPE_SECRET_KEY, PAYSTACK_SECRET_KEY.
"""

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

dramatiq.set_broker(RedisBroker(url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")))

from bench.naive_peer import actors  # noqa: E402  (declares the actor on the broker above)

__all__ = ["actors"]
