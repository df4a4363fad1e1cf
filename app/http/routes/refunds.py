"""``/v1/payments/{id}/refunds`` and ``/v1/refunds/{id}``: refund idempotently, read one back."""

from starlette.requests import Request
from starlette.responses import Response

from app.http.access import owned_record, read_mutation
from app.http.responses import answer_response, json_response
from app.metrics import ACCEPT_LATENCY
from app.refunds.accept import RefundAcceptor
from app.refunds.record import REFUNDS, view
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


async def get_refund(request: Request) -> Response:
    refund_id = request.path_params["refund_id"]
    record = await owned_record(request, REFUNDS, refund_id)
    return json_response(view(record))
