"""Operations endpoints: liveness, readiness, metrics."""

import asyncio

import psycopg
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.accept import REDIS_UNAVAILABLE_ERRORS

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


async def readyz(request: Request) -> Response:
    """Ready when Redis answers; PostgreSQL is reported but never fails readiness."""
    try:
        await asyncio.wait_for(request.app.state.redis.ping(), REDIS_PING_TIMEOUT_S)
        redis_status = "ok"
    except (TimeoutError, *REDIS_UNAVAILABLE_ERRORS):
        redis_status = "unavailable"
    postgres_ok = await asyncio.to_thread(
        _postgres_answers, request.app.state.settings.database_url
    )
    body = {
        "status": "ready" if redis_status == "ok" else "unavailable",
        "redis": redis_status,
        "postgres": "ok" if postgres_ok else "unavailable",
    }
    return JSONResponse(body, status_code=200 if redis_status == "ok" else 503)


async def metrics(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
