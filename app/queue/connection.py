"""How each process connects to Redis, and which Redis errors mean a write was not taken.

Web processes use one asyncio client each; workers and the command line a blocking one. Every
client resends a command once on a fresh connection when its connection died, so a restarted
Redis costs a reconnect rather than an error. That is safe because every write paystream makes
replays when rerun: the accept scripts answer a stored key as a replay, worker writes are
compare-and-sets or keyed by message id, and a rerun XADD only delivers a message twice, which
the recovery points absorb.
"""

import contextlib
from collections.abc import Iterator
from typing import Any

import redis
import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.backoff import NoBackoff

from app.errors import Unavailable
from app.settings import Settings

#: Redis errors after which nothing was stored, so a retry with the same key is safe.
REDIS_UNAVAILABLE_ERRORS = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
    redis_errors.ReadOnlyError,
    redis_errors.OutOfMemoryError,
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
)
CONNECTION_RETRIES = 1
#: Connections per web process; above the concurrency one event loop can usefully drive.
WEB_CONNECTIONS_MAX = 256
WEB_SOCKET_TIMEOUT_S = 5.0
#: Above the streams consumer's longest blocking read, so a quiet stream is no timeout.
WORKER_SOCKET_TIMEOUT_S = 10.0
#: Connections of a worker's async client: its calls go out in batches, a few at a time.
WORKER_CONNECTIONS_MAX = 64
#: An idle pooled connection is pinged before reuse after this long, so a restarted Redis
#: costs a reconnect, not a failed command.
WORKER_HEALTH_CHECK_INTERVAL_S = 30


def _timeouts(socket_timeout_s: float) -> dict[str, Any]:
    return {"socket_timeout": socket_timeout_s, "socket_connect_timeout": socket_timeout_s}


def web_client(settings: Settings) -> aioredis.Redis:
    retry = aioredis.retry.Retry(NoBackoff(), CONNECTION_RETRIES)
    options = _timeouts(WEB_SOCKET_TIMEOUT_S) | {"max_connections": WEB_CONNECTIONS_MAX}
    return aioredis.Redis.from_url(settings.redis_url, retry=retry, **options)


def worker_client(settings: Settings) -> redis.Redis:
    retry = redis.retry.Retry(NoBackoff(), CONNECTION_RETRIES)
    options = _timeouts(WORKER_SOCKET_TIMEOUT_S)
    options["health_check_interval"] = WORKER_HEALTH_CHECK_INTERVAL_S
    return redis.Redis.from_url(settings.redis_url, retry=retry, **options)


def worker_async_client(settings: Settings) -> aioredis.Redis:
    """For a worker's messages in flight: its batches keep the connection count small, and a
    burst past the pool waits for a connection instead of failing."""
    retry = aioredis.retry.Retry(NoBackoff(), CONNECTION_RETRIES)
    options = _timeouts(WORKER_SOCKET_TIMEOUT_S)
    options["health_check_interval"] = WORKER_HEALTH_CHECK_INTERVAL_S
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=WORKER_CONNECTIONS_MAX,
        timeout=WORKER_SOCKET_TIMEOUT_S,
        retry=retry,
        **options,
    )
    return aioredis.Redis.from_pool(pool)


@contextlib.contextmanager
def unavailable_as_503() -> Iterator[None]:
    """Redis not taking a command becomes the client's 503: nothing was stored, retry."""
    try:
        yield
    except REDIS_UNAVAILABLE_ERRORS:
        raise Unavailable() from None
