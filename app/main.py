"""The ASGI application: ``uvicorn app.main:app``."""

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.http.auth import Authenticator
from app.http.openapi import SPEC
from app.http.problems import EXCEPTION_HANDLERS
from app.http.routes import operations, payments, provider_webhooks, refunds
from app.payments.accept import Acceptor
from app.provider_events.receive import Inbox
from app.queue.batch import Batcher
from app.queue.connection import web_client
from app.refunds.accept import RefundAcceptor
from app.settings import Settings, settings


async def openapi(_: Request) -> Response:
    return JSONResponse(SPEC)


def create_app(config: Settings | None = None) -> Starlette:
    config = config or settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = web_client(config)
        app.state.settings = config
        app.state.redis = client
        batcher = Batcher(client)
        app.state.acceptor = Acceptor(batcher, config)
        app.state.refund_acceptor = RefundAcceptor(batcher, config)
        app.state.authenticator = Authenticator(client)
        app.state.provider_inbox = Inbox(batcher, config)
        yield
        await client.aclose()

    routes = [
        Route("/v1/payments", payments.create_payment, methods=["POST"]),
        Route("/v1/payments/{payment_id}", payments.get_payment, methods=["GET"]),
        Route("/v1/payments/{payment_id}/refunds", refunds.create_refund, methods=["POST"]),
        Route("/v1/refunds/{refund_id}", refunds.get_refund, methods=["GET"]),
        Route("/v1/webhooks/stripe", provider_webhooks.stripe_webhook, methods=["POST"]),
        Route("/v1/webhooks/paystack", provider_webhooks.paystack_webhook, methods=["POST"]),
        Route("/healthz", operations.healthz, methods=["GET"]),
        Route("/readyz", operations.readyz, methods=["GET"]),
        Route("/metrics", operations.metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)


app = create_app()
