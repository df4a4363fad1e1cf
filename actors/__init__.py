"""The worker side: ``dramatiq actors`` loads this package, which installs the Redis Streams
broker and declares the actors on it."""

import dramatiq
from dramatiq.middleware import Middleware, default_middleware

from actors import retries
from actors.broker import StreamsBroker
from actors.merchant_sync import MerchantSync
from actors.runtime import redis_client
from app.settings import settings

#: Entries one read may take per consumer (XREADGROUP COUNT), within the worker's prefetch.
READ_COUNT_MAX = 64
#: Longest blocking read; shorter than the Redis socket timeout so a quiet stream is no error.
BLOCK_MS = 1000


def worker_middleware() -> list[Middleware]:
    """Dramatiq's defaults, in their order, with Retries replaced by ours (it adds ``Defer``)."""
    return [
        retries.Retries() if factory is dramatiq.middleware.Retries else factory()
        for factory in default_middleware
    ]


def build_broker() -> StreamsBroker:
    config = settings()
    return StreamsBroker(
        client=redis_client(config),
        partitions=config.stream_partitions,
        reclaim_idle_ms=config.reclaim_idle_ms,
        deliveries_max=config.deliveries_max,
        read_count_max=READ_COUNT_MAX,
        block_ms=BLOCK_MS,
        # Only the worker process has the runtime MerchantSync reads (settings from its env).
        middleware=[*worker_middleware(), MerchantSync()],
    )


dramatiq.set_broker(build_broker())

from actors import charge, refund  # noqa: E402  (declare their actors on the broker above)

__all__ = ["build_broker", "charge", "refund", "worker_middleware"]
