"""Mirror the merchants' API key hashes from PostgreSQL into Redis whenever a worker boots.

The release step (``paystream merchant sync``) is otherwise the only bulk writer of the auth
hash: a Redis restarted without AOF, or flushed, would answer every API call with 401 until
someone reran it. Workers boot on every deploy, restart and crash, so they heal it on their own.
"""

import logging
from collections.abc import Callable

import redis
from dramatiq import Worker
from dramatiq.broker import Broker
from dramatiq.middleware import Middleware
from sqlalchemy.exc import SQLAlchemyError

from actors.runtime import Runtime, runtime
from app.merchants import registry as merchants

logger = logging.getLogger(__name__)


class MerchantSync(Middleware):
    """Runs ``merchants.sync`` once per worker boot, on the runtime's engine and Redis.

    ``runtime_factory`` is the process's cached runtime unless a test gives its own.
    """

    def __init__(self, runtime_factory: Callable[[], Runtime] = runtime) -> None:
        self.runtime_factory = runtime_factory

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        context = self.runtime_factory()
        try:
            count = merchants.sync(context.database, context.redis)
        except (SQLAlchemyError, redis.RedisError) as error:
            # Never fatal: payments flow without PostgreSQL (they wait in Redis for the ledger),
            # and the keys already in Redis keep working. The next boot or release tries again.
            logger.warning("merchant sync at worker boot failed: %s", type(error).__name__)
            return
        logger.info("mirrored %d merchant key(s) to Redis at worker boot", count)
