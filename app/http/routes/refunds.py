"""``POST /v1/payments/{id}/refunds``: refund idempotently."""

from starlette.requests import Request
from starlette.responses import Response

from app.http.access import read_mutation
from app.http.responses import answer_response
from app.metrics import ACCEPT_LATENCY
from app.refunds.accept import RefundAcceptor
from app.refunds.request import validate_refund


async def create_refund(request: Request) -> Response:
    with ACCEPT_LATENCY.labels("refund").time():
        return await _create_refund(request)


async def _create_refund(request: Request) -> Response:
    # An empty body asks for the default: refund what remains.
    mutation = await read_mutation(request, empty_body_means={})
    refund_request = validate_refund(mutation.document)
    acceptor: RefundAcceptor = request.app.state.refund_acceptor
    payment_id = request.path_params["payment_id"]
    answer = await acceptor.accept(
        mutation.merchant_id, mutation.client_key, payment_id, refund_request
    )
    return answer_response(answer)
