"""The worker side: ``python -m actors`` (Dramatiq's command line, see ``actors.__main__``) or
``dramatiq actors`` loads this package, which installs the Redis Streams broker and declares
the actors on it."""

import dramatiq
from dramatiq.middleware import Middleware, default_middleware

from actors.middleware import retries
from actors.middleware.log_context import LogContext
from actors.middleware.merchant_sync import MerchantSync
from actors.middleware.metrics import WorkerMetrics
from actors.middleware.one_stop import OneStop
from actors.middleware.provider_keys import ProviderKeys
from actors.middleware.webhook_sweep import WebhookSweep
from actors.streams.broker import StreamsBroker
from actors.streams.options import StreamOptions
from app import logs, process
from app.queue.connection import worker_async_client, worker_client
from app.settings import settings


def worker_middleware() -> list[Middleware]:
    """Dramatiq's defaults, in their order, with Retries replaced by ours (it adds ``Defer``)."""
    return [
        retries.Retries() if factory is dramatiq.middleware.Retries else factory()
        for factory in default_middleware
    ]


def build_broker() -> StreamsBroker:
    config = settings()
    logs.configure(config.log_format)
    return StreamsBroker(
        client=worker_client(config),
        options=StreamOptions(
            partitions=config.stream_partitions,
            reclaim_idle_ms=config.reclaim_idle_ms,
            deliveries_max=config.deliveries_max,
            concurrency=config.worker_concurrency,
            shutdown_grace_ms=config.worker_shutdown_grace_s * 1000,
        ),
        async_client=worker_async_client(config),
        # LogContext first: every other middleware's lines about a message carry its ids;
        # WorkerMetrics before Retries: its after-hooks then see what Retries decided.
        middleware=[
            LogContext(),
            WorkerMetrics(),
            *worker_middleware(),
            ProviderKeys(config),
            MerchantSync(),
            OneStop(),
            WebhookSweep(),
        ],
    )


dramatiq.set_broker(build_broker())

from actors import (  # noqa: E402  (declare their actors on the broker above)
    charge,
    provider_events,
    refund,
    relay,
)
from actors.webhooks import deliver  # noqa: E402

# Every actor is declared: the rest of start-up is the worker's threads.
process.settle_heap()

__all__ = [
    "build_broker",
    "charge",
    "deliver",
    "provider_events",
    "refund",
    "relay",
    "worker_middleware",
]
