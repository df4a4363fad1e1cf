"""Mirror the merchants' API key hashes from PostgreSQL into Redis whenever a worker boots.

The release step (``paystream merchant sync``) is otherwise the only bulk writer of the auth
hash: a Redis restarted without AOF, or flushed, would answer every API call with 401 until
someone reran it. Workers boot on every deploy, restart and crash, so they heal it on their own.
"""

import logging

import redis
from dramatiq import Worker
from dramatiq.broker import Broker
from dramatiq.middleware import Middleware
from redis.cluster import RedisCluster
from sqlalchemy.exc import SQLAlchemyError

from app.db import create_engine_for
from app.merchants import registry as merchants
from app.settings import settings

logger = logging.getLogger(__name__)


class MerchantSync(Middleware):
    """Runs ``merchants.sync`` once per worker boot, into the broker's Redis.

    ``database_url`` is the settings' unless a test gives its own.
    """

    def __init__(self, database_url: str | None = None) -> None:
        self.database_url = database_url

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        client = getattr(broker, "client", None)
        if not isinstance(client, (redis.Redis, RedisCluster)):
            raise TypeError("MerchantSync needs a broker with a blocking Redis client")
        engine = create_engine_for(self.database_url or settings().database_url)
        try:
            count = merchants.sync(engine, client)
        except (SQLAlchemyError, redis.RedisError) as error:
            # Never fatal: payments flow without PostgreSQL (they wait in Redis for the ledger),
            # and the keys already in Redis keep working. The next boot or release tries again.
            logger.warning("merchant sync at worker boot failed: %s", type(error).__name__)
            return
        finally:
            engine.dispose()
        logger.info("mirrored %d merchant key(s) to Redis at worker boot", count)
