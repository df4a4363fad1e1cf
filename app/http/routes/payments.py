"""``POST /v1/payments``: accept a payment idempotently.

Plain ASGI, taken ahead of Starlette's middleware and router (``app.http.direct``): on the
busiest route of all, the Request object, the three middleware layers each wrapping ``send``
and the Response object cost about as much CPU as the accept itself. What they gave this route
is kept: every error is a problem answer, the access line and Request-Id come from
``app.http.request_log`` as for any route, and the accept latency is measured the same way.
"""

import logging
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from app.errors import ApiError
from app.http.access import mutation_of
from app.http.problems import problem_response, unexpected_problem
from app.http.responses import send_answer
from app.idempotency import Answer
from app.metrics import ACCEPT_LATENCY, PAYMENTS_ACCEPTED, PAYMENTS_REPLAYED
from app.payments.accept import Acceptor
from app.payments.request import validate

ACCEPT_LATENCY_PAYMENT = ACCEPT_LATENCY.labels("payment")
logger = logging.getLogger(__name__)


class CreatePayment:
    """The route's ASGI app (a class, so Starlette's ``Route`` takes it as one)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            with ACCEPT_LATENCY_PAYMENT.time():
                answer = await _accept(scope, receive)
        except ClientDisconnect:
            return  # nobody to answer; nothing was stored before the whole body was read
        except ApiError as error:
            await problem_response(error)(scope, receive, send)
            return
        except Exception as error:  # a bug or a Redis outage: still a problem, never a bare 500
            await unexpected_problem(error)(scope, receive, send)
            return
        (PAYMENTS_REPLAYED if answer.replayed else PAYMENTS_ACCEPTED).inc()
        await send_answer(send, answer)


async def _accept(scope: Scope, receive: Receive) -> Answer:
    # uvicorn hands header names lower-cased; the first of a repeated header wins, as in
    # Starlette's Headers.
    headers = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in reversed(scope["headers"])
    }
    app_state = scope["app"].state
    mutation = await mutation_of(app_state, headers, scope, _body_chunks(receive))
    payment_request = validate(mutation.document)
    acceptor: Acceptor = app_state.acceptor
    return await acceptor.accept(mutation.merchant_id, mutation.client_key, payment_request)


async def _body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


create_payment = CreatePayment()
