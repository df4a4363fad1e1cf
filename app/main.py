"""The ASGI application: ``uvicorn app.main:app``."""

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from app import logs, process
from app.console import console
from app.db import create_engine_for
from app.history.listing import PaymentLister
from app.history.lookup import Lookup
from app.http.auth import Authenticator
from app.http.direct import DirectRoutes
from app.http.openapi import SPEC
from app.http.problems import EXCEPTION_HANDLERS
from app.http.request_log import RequestLog
from app.http.routes import (
    event_deliveries,
    events,
    history,
    operations,
    payments,
    provider_webhooks,
    refunds,
    webhook_endpoints,
)
from app.payments.accept import Acceptor
from app.provider_events.receive import Inbox
from app.queue.batch import Batcher, Replication
from app.queue.connection import WEB_BATCH_TIMEOUT_S, learn_topology, web_client
from app.refunds.accept import RefundAcceptor
from app.settings import Settings, settings

#: A GET waiting on an unreachable PostgreSQL answers 503 after this, not a client's timeout.
HISTORY_CONNECT_TIMEOUT_S = 2


async def openapi(_: Request) -> Response:
    return JSONResponse(SPEC)


#: Routes taken ahead of Starlette's middleware and router (app.http.direct).
DIRECT_ROUTES = [Route("/v1/payments", payments.create_payment, methods=["POST"])]


class Paystream(Starlette):
    """Starlette with the request log outermost, around its error middleware and the direct
    routes too, so every answer (a 500 included) carries its Request-Id and leaves its access
    line."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestLog(DirectRoutes(super().build_middleware_stack(), DIRECT_ROUTES))


def create_app(config: Settings | None = None) -> Starlette:
    config = config or settings()
    logs.configure(config.log_format)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = web_client(config)
        await learn_topology(client)
        app.state.settings = config
        app.state.redis = client
        batcher = Batcher(client, Replication.of(config), timeout_s=WEB_BATCH_TIMEOUT_S)
        app.state.acceptor = Acceptor(batcher, config)
        app.state.refund_acceptor = RefundAcceptor(batcher, config)
        app.state.authenticator = Authenticator(batcher)
        app.state.provider_inbox = Inbox(batcher, config)
        # The history: read when Redis no longer holds a payment, never on the accept path.
        database = create_engine_for(
            config.database_url, connect_timeout_s=HISTORY_CONNECT_TIMEOUT_S
        )
        app.state.batcher = batcher
        app.state.database = database
        app.state.lookup = Lookup(batcher, database, config.stream_partitions)
        app.state.payment_lister = PaymentLister(batcher, database, config.stream_partitions)
        process.settle_heap()
        yield
        await batcher.aclose()
        await client.aclose()
        database.dispose()

    routes = [
        *DIRECT_ROUTES,
        Route("/v1/payments", history.list_payments, methods=["GET"]),
        Route("/v1/payments/{payment_id}", history.get_payment, methods=["GET"]),
        Route("/v1/payments/{payment_id}/refunds", refunds.create_refund, methods=["POST"]),
        Route("/v1/refunds/{refund_id}", history.get_refund, methods=["GET"]),
        Route("/v1/events", events.list_events, methods=["GET"]),
        Route("/v1/events/{event_id}", events.get_event, methods=["GET"]),
        # Outbound webhooks to merchants.
        Route("/v1/webhook_endpoints", webhook_endpoints.create_endpoint, methods=["POST"]),
        Route("/v1/webhook_endpoints", webhook_endpoints.list_endpoints, methods=["GET"]),
        Route(
            "/v1/webhook_endpoints/{endpoint_id}", webhook_endpoints.get_endpoint, methods=["GET"]
        ),
        Route(
            "/v1/webhook_endpoints/{endpoint_id}",
            webhook_endpoints.delete_endpoint,
            methods=["DELETE"],
        ),
        Route("/v1/events/{event_id}/attempts", event_deliveries.list_attempts, methods=["GET"]),
        Route("/v1/events/{event_id}/resend", event_deliveries.resend_event, methods=["POST"]),
        Route("/v1/webhooks/stripe", provider_webhooks.stripe_webhook, methods=["POST"]),
        Route("/v1/webhooks/paystack", provider_webhooks.paystack_webhook, methods=["POST"]),
        Route("/healthz", operations.healthz, methods=["GET"]),
        Route("/readyz", operations.readyz, methods=["GET"]),
        Route("/metrics", operations.metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *console(config),
    ]
    return Paystream(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)


app = create_app()
