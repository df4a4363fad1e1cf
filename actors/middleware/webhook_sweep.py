"""Queue again the webhook chains whose message was lost.

A delivery's next attempt lives in PostgreSQL (``next_attempt_at``); its message in Redis only
carries it there. When that message is gone (Redis failed over or restarted without AOF, a
worker died between storing an attempt and queueing the chain's next), the delivery would wait
for ever. Each worker process therefore looks, every ``WEBHOOK_SWEEP_INTERVAL_S``, for chains
whose first pending delivery has been due for a few intervals and is held by no one, and
queues a message for each; the row's hold keeps a duplicate from sending twice.
"""

import logging
import threading

import redis
from dramatiq import Worker
from dramatiq.broker import Broker
from dramatiq.middleware import Middleware
from sqlalchemy import Engine

from app.db import create_engine_for
from app.history.listing import DATABASE_ERRORS
from app.queue import keys
from app.settings import Settings, settings
from app.webhooks import chain
from app.webhooks.queueing import chain_messages

#: A due delivery is only called lost once it has waited this many sweep intervals: its own
#: message normally comes well within one.
OVERDUE_INTERVALS = 3
#: Chains queued per sweep, so a long outage's backlog is fed in steps, not in one burst.
SWEEP_CHAINS_MAX = 1000
logger = logging.getLogger(__name__)


def sweep_once(config: Settings, engine: Engine, client: redis.Redis) -> int:
    """Queue the lost chains once; how many were queued."""
    overdue_s = config.webhook_sweep_interval_s * OVERDUE_INTERVALS
    lost = chain.sweep(engine, overdue_s, SWEEP_CHAINS_MAX)
    for stream, message in chain_messages(config.stream_partitions, lost):
        client.xadd(stream, {keys.MESSAGE_FIELD: message})
    if lost:
        logger.info("queued %d webhook chains whose message was lost", len(lost))
    return len(lost)


class WebhookSweep(Middleware):
    """A thread per worker process, from boot to shutdown."""

    def __init__(self, config: Settings | None = None) -> None:
        self._config = config
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        client = getattr(broker, "client", None)
        if not isinstance(client, redis.Redis):
            raise TypeError("WebhookSweep needs a broker with a blocking Redis client")
        config = self._config or settings()
        self._thread = threading.Thread(
            target=self._run, args=(config, client), name="webhook-sweep", daemon=True
        )
        self._thread.start()

    def before_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        self._stopping.set()

    def _run(self, config: Settings, client: redis.Redis) -> None:
        engine = create_engine_for(config.database_url)
        try:
            while not self._stopping.wait(config.webhook_sweep_interval_s):
                try:
                    sweep_once(config, engine, client)
                except (*DATABASE_ERRORS, redis.RedisError) as error:
                    # The next sweep tries again; deliveries wait durably meanwhile.
                    logger.warning("webhook sweep skipped: %s", type(error).__name__)
        finally:
            engine.dispose()
