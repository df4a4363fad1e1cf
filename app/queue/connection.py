"""How each process connects to Redis, and which Redis errors mean a write was not taken.

``REDIS_URL`` may name a single Redis or any node of a Redis Cluster: the node is asked once
whether it runs in cluster mode, and the matching client is built here, so web, worker, command
line and console all follow the same answer.

Web processes use one asyncio client each; workers and the command line a blocking one. Every
client resends a command once on a fresh connection when its connection died, so a restarted
Redis costs a reconnect rather than an error. That is safe because every write paystream makes
replays when rerun: the accept scripts answer a stored key as a replay, worker writes are
compare-and-sets or keyed by message id, and a rerun XADD only delivers a message twice, which
the recovery points absorb.
"""

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import redis
import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster

from app.errors import Unavailable
from app.queue.batch import ReplicasNotAcked
from app.queue.pipe import packed, packed_all
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
    redis_errors.MaxConnectionsError,
    # A cluster client that does not know, for now, which node serves a slot.
    redis_errors.SlotNotCoveredError,
    ReplicasNotAcked,
)
#: The 503's detail when the primary took the write but too few replicas confirmed it.
REPLICAS_NOT_ACKED_DETAIL = (
    "Too few Redis replicas confirmed the request in time, so it is not yet safe from a "
    "failover. Retrying with the same Idempotency-Key answers the same payment, never a second."
)
CONNECTION_RETRIES = 1
#: Connections per web process; above the concurrency one event loop can usefully drive.
WEB_CONNECTIONS_MAX = 256
WEB_SOCKET_TIMEOUT_S = 5.0
#: Above the streams consumer's longest blocking read, so a quiet stream is no timeout.
WORKER_SOCKET_TIMEOUT_S = 10.0
#: The most one batch of a worker's Redis calls may take, sent to answered.
WORKER_BATCH_TIMEOUT_S = WORKER_SOCKET_TIMEOUT_S
#: The same for the web process: a request is answered 503 rather than held longer.
WEB_BATCH_TIMEOUT_S = WEB_SOCKET_TIMEOUT_S
#: Connections of a worker's async client: its calls go out in batches, a few at a time.
WORKER_CONNECTIONS_MAX = 64
#: An idle pooled connection is pinged before reuse after this long, so a restarted Redis
#: costs a reconnect, not a failed command.
WORKER_HEALTH_CHECK_INTERVAL_S = 30


#: How long the start-up question "is this node part of a cluster?" may take.
PROBE_TIMEOUT_S = 2.0
#: Connections per cluster node of a worker's blocking client: its consumer threads and the
#: worker threads' acks and nacks.
WORKER_NODE_CONNECTIONS_MAX = 64
#: Connections per cluster node of the command line and the console: a few calls at a time.
TOOL_NODE_CONNECTIONS_MAX = 16

#: A blocking client of either kind; redis-py's cluster client is no subclass of its Redis.
SyncClient = redis.Redis | RedisCluster
AsyncClient = aioredis.Redis | AsyncRedisCluster


class HiredisPackedConnection(aioredis.Connection):
    """redis-py's asyncio connection with hiredis's C packer, which its blocking connection
    already uses: packing a worker's pipelines in Python was 6 % of its CPU in a profile, and
    the C packer writes the same bytes about eight times faster.

    Only ``redis://`` takes it: a ``rediss://`` or ``unix://`` URL sets its own connection
    class, and redis-py's asyncio cluster client builds its nodes' connections itself."""

    def pack_command(self, *args: Any) -> list[bytes]:
        return [packed(args)]

    def pack_commands(self, commands: Iterable[Iterable[Any]]) -> list[bytes]:
        return [packed_all(tuple(command) for command in commands)]


def _timeouts(socket_timeout_s: float) -> dict[str, Any]:
    return {"socket_timeout": socket_timeout_s, "socket_connect_timeout": socket_timeout_s}


def _single_async_options(connections_max: int, connect_timeout_s: float) -> dict[str, Any]:
    """An asyncio client's pool on a single Redis: the C packer, and no socket timeout of its
    own, since the batcher times each pipeline as a whole (see ``worker_async_client``)."""
    return {
        "max_connections": connections_max,
        "connection_class": HiredisPackedConnection,
        # Explicitly none: redis-py 8 reads with a 5 s timeout when the option is left out.
        "socket_timeout": None,
        "socket_connect_timeout": connect_timeout_s,
    }


def is_cluster(redis_url: str) -> bool:
    """Whether the node ``redis_url`` names runs in cluster mode. A node that cannot be reached
    counts as a single Redis, the client paystream always built before clusters."""
    probe = redis.Redis.from_url(redis_url, **_timeouts(PROBE_TIMEOUT_S))
    try:
        return bool(probe.info("cluster").get("cluster_enabled"))
    except REDIS_UNAVAILABLE_ERRORS:
        return False
    finally:
        probe.close()


def _cluster_options(socket_timeout_s: float, node_connections_max: int) -> dict[str, Any]:
    """redis-py's cluster defaults (5 s socket timeout, ten retries with backoff) turn one
    blocking read into a minute of retries: every limit is set here instead."""
    return _timeouts(socket_timeout_s) | {
        "max_connections": node_connections_max,
        # A failed-over master answers MOVED; the cluster client follows it after a topology
        # refresh, which this bounds.
        "require_full_coverage": False,
    }


def web_client(settings: Settings) -> AsyncClient:
    """For the web process, whose calls go through its batcher (timed by batch, as a worker's;
    see ``worker_async_client``) or carry their own bound (``/readyz``)."""
    retry = aioredis.retry.Retry(NoBackoff(), CONNECTION_RETRIES)
    if is_cluster(settings.redis_url):
        options = _cluster_options(WEB_SOCKET_TIMEOUT_S, WEB_CONNECTIONS_MAX)
        return AsyncRedisCluster.from_url(settings.redis_url, retry=retry, **options)
    options = _single_async_options(WEB_CONNECTIONS_MAX, WEB_SOCKET_TIMEOUT_S)
    return aioredis.Redis.from_url(settings.redis_url, retry=retry, **options)


def worker_client(settings: Settings) -> SyncClient:
    retry = redis.retry.Retry(NoBackoff(), CONNECTION_RETRIES)
    if is_cluster(settings.redis_url):
        options = _cluster_options(WORKER_SOCKET_TIMEOUT_S, WORKER_NODE_CONNECTIONS_MAX)
        return RedisCluster.from_url(settings.redis_url, retry=retry, **options)
    options = _timeouts(WORKER_SOCKET_TIMEOUT_S)
    options["health_check_interval"] = WORKER_HEALTH_CHECK_INTERVAL_S
    return redis.Redis.from_url(settings.redis_url, retry=retry, **options)


def tool_client(redis_url: str) -> SyncClient:
    """For the command line and the console: short calls, redis-py's defaults otherwise."""
    if is_cluster(redis_url):
        options = _cluster_options(WEB_SOCKET_TIMEOUT_S, TOOL_NODE_CONNECTIONS_MAX)
        return RedisCluster.from_url(redis_url, **options)
    return redis.Redis.from_url(redis_url)


def worker_async_client(settings: Settings) -> AsyncClient:
    """For a worker's messages in flight: its batches keep the connection count small, and a
    burst past the pool waits for a connection instead of failing (on a cluster, whose client
    has no waiting pool, the batches alone keep it under the per-node limit).

    On a single Redis its replies have no socket timeout of their own: the batcher times each
    pipeline as a whole (``WORKER_BATCH_TIMEOUT_S``). redis-py arms a timer for every reply it
    reads, and at hundreds of payments in flight that was a twentieth of a worker's CPU."""
    retry = aioredis.retry.Retry(NoBackoff(), CONNECTION_RETRIES)
    if is_cluster(settings.redis_url):
        options = _cluster_options(WORKER_SOCKET_TIMEOUT_S, WORKER_CONNECTIONS_MAX)
        return AsyncRedisCluster.from_url(settings.redis_url, retry=retry, **options)
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        timeout=WORKER_SOCKET_TIMEOUT_S,
        retry=retry,
        health_check_interval=WORKER_HEALTH_CHECK_INTERVAL_S,
        **_single_async_options(WORKER_CONNECTIONS_MAX, WORKER_SOCKET_TIMEOUT_S),
    )
    return aioredis.Redis.from_pool(pool)


async def learn_topology(client: AsyncClient) -> None:
    """Have a cluster client learn the cluster's nodes and slots before its first burst.

    Left to learn them inside a burst of concurrent pipelines, a fresh redis-py 8 cluster
    client failed some with "Connection closed by server" (measured: 503s from a new web
    process under 64 connections, none once it had learnt them first). A cluster down at start
    is no reason not to start: the first calls then learn it, as before."""
    if isinstance(client, AsyncRedisCluster):
        try:
            await client.initialize()
        except (*REDIS_UNAVAILABLE_ERRORS, redis_errors.RedisClusterException):
            pass


@contextlib.contextmanager
def unavailable_as_503() -> Iterator[None]:
    """Redis not taking a command becomes the client's 503: nothing was stored, retry."""
    try:
        yield
    except ReplicasNotAcked:
        raise Unavailable(REPLICAS_NOT_ACKED_DETAIL) from None
    except REDIS_UNAVAILABLE_ERRORS:
        raise Unavailable() from None
