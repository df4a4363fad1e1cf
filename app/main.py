"""The ASGI application: ``uvicorn app.main:app``."""

import contextlib
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.accept import Acceptor
from app.auth import Authenticator
from app.openapi import SPEC
from app.problems import EXCEPTION_HANDLERS
from app.refund_accept import RefundAcceptor
from app.routes import operations, payments, refunds
from app.settings import Settings, settings

#: Connections per web process; above the concurrency one event loop can usefully drive.
REDIS_CONNECTIONS_MAX = 256
REDIS_SOCKET_TIMEOUT_S = 5.0
#: A command that fails on a dead connection is sent once more on a fresh one, so a restarted
#: Redis costs a reconnect rather than a 503. Safe: the accept scripts replay when rerun.
REDIS_CONNECTION_RETRIES = 1


async def openapi(_: Request) -> Response:
    return JSONResponse(SPEC)


def create_app(config: Settings | None = None) -> Starlette:
    config = config or settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = aioredis.Redis.from_url(
            config.redis_url,
            max_connections=REDIS_CONNECTIONS_MAX,
            socket_timeout=REDIS_SOCKET_TIMEOUT_S,
            socket_connect_timeout=REDIS_SOCKET_TIMEOUT_S,
            retry=Retry(NoBackoff(), REDIS_CONNECTION_RETRIES),
        )
        app.state.settings = config
        app.state.redis = client
        app.state.acceptor = Acceptor(client, config)
        app.state.refund_acceptor = RefundAcceptor(client, config)
        app.state.authenticator = Authenticator(client)
        yield
        await client.aclose()

    routes = [
        Route("/v1/payments", payments.create_payment, methods=["POST"]),
        Route("/v1/payments/{payment_id}", payments.get_payment, methods=["GET"]),
        Route("/v1/payments/{payment_id}/refunds", refunds.create_refund, methods=["POST"]),
        Route("/v1/refunds/{refund_id}", refunds.get_refund, methods=["GET"]),
        Route("/healthz", operations.healthz, methods=["GET"]),
        Route("/readyz", operations.readyz, methods=["GET"]),
        Route("/metrics", operations.metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)


app = create_app()
