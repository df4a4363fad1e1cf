"""``POST /v1/payments``: accept a payment idempotently."""

from starlette.requests import Request
from starlette.responses import Response

from app.http.access import read_mutation
from app.http.responses import answer_response
from app.metrics import ACCEPT_LATENCY, PAYMENTS_ACCEPTED, PAYMENTS_REPLAYED
from app.payments.accept import Acceptor
from app.payments.request import validate


async def create_payment(request: Request) -> Response:
    with ACCEPT_LATENCY.labels("payment").time():
        return await _create_payment(request)


async def _create_payment(request: Request) -> Response:
    mutation = await read_mutation(request)
    payment_request = validate(mutation.document)
    acceptor: Acceptor = request.app.state.acceptor
    answer = await acceptor.accept(mutation.merchant_id, mutation.client_key, payment_request)
    (PAYMENTS_REPLAYED if answer.replayed else PAYMENTS_ACCEPTED).inc()
    return answer_response(answer)
