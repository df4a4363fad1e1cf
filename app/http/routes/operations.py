"""Operations endpoints: liveness, readiness, metrics."""

import asyncio

import psycopg
import redis
import redis.asyncio as aioredis
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.metrics.exposition import exposition
from app.metrics.queue import QueueCollector
from app.queue import ops
from app.queue.connection import REDIS_UNAVAILABLE_ERRORS
from app.queue.dispatch import PAYMENTS_QUEUE
from app.settings import Settings

POSTGRES_CONNECT_TIMEOUT_S = 1
REDIS_PING_TIMEOUT_S = 1.0


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _postgres_answers(database_url: str) -> bool:
    try:
        with psycopg.connect(database_url, connect_timeout=POSTGRES_CONNECT_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


async def _redis_durability(client: aioredis.Redis) -> dict[str, object]:
    """Whether this Redis keeps what it acknowledged: AOF on and no eviction.

    Without AOF a restart forgets every payment answered 202 since the last snapshot; with an
    eviction policy Redis may drop idempotency keys or pending stream entries under memory
    pressure. Both make "nothing accepted is ever lost" untrue, so readiness says so.
    """
    persistence = await client.info("persistence")
    memory = await client.info("memory")
    appendonly = int(persistence.get("aof_enabled", 0)) == 1
    policy = str(memory.get("maxmemory_policy", "unknown"))
    return {
        "appendonly": appendonly,
        "maxmemory_policy": policy,
        "may_lose_acknowledged_writes": not appendonly or policy != "noeviction",
    }


async def readyz(request: Request) -> Response:
    """Ready when Redis answers; PostgreSQL and Redis durability are reported, not required."""
    client: aioredis.Redis = request.app.state.redis
    try:
        durability = await asyncio.wait_for(_redis_durability(client), REDIS_PING_TIMEOUT_S)
        redis_status = "ok"
    except (TimeoutError, *REDIS_UNAVAILABLE_ERRORS):
        durability, redis_status = {}, "unavailable"
    postgres_ok = await asyncio.to_thread(
        _postgres_answers, request.app.state.settings.database_url
    )
    body = {
        "status": "ready" if redis_status == "ok" else "unavailable",
        "redis": redis_status,
        "redis_durability": durability,
        "postgres": "ok" if postgres_ok else "unavailable",
    }
    return JSONResponse(body, status_code=200 if redis_status == "ok" else 503)


def _queue_rows(settings: Settings) -> list[ops.PartitionStatus]:
    """The queue as it stands; none when Redis does not answer (the rest still scrapes)."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=REDIS_PING_TIMEOUT_S)
    try:
        return ops.queue_status(client, PAYMENTS_QUEUE, settings.stream_partitions)
    except REDIS_UNAVAILABLE_ERRORS:
        return []
    finally:
        client.close()


async def metrics(request: Request) -> Response:
    """Every web process's metrics summed, and the queue gauges read now."""
    rows = await asyncio.to_thread(_queue_rows, request.app.state.settings)
    body = exposition([QueueCollector(PAYMENTS_QUEUE, rows)])
    return Response(body, media_type=CONTENT_TYPE_LATEST)
