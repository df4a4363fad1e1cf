"""Reading payments and refunds back: one by id (from Redis while it holds the record, else
from the history) and the merchant's payments as a list. Kept apart from the accept routes:
these read PostgreSQL, which the accept path never touches."""

from starlette.requests import Request
from starlette.responses import Response

from app.errors import NotFound
from app.history.listing import PaymentLister
from app.history.lookup import HistoryRead, Lookup
from app.history.read import payment_body, refund_body
from app.http.access import authenticate
from app.http.lists import list_query, list_response
from app.http.responses import JSON_MEDIA_TYPE
from app.payments.record import PAYMENT_STATUSES, PAYMENTS
from app.queue.keys import PAYMENT_ID_PREFIX
from app.recovery import Record, RecordKind
from app.refunds.record import REFUNDS

LIST_URL = "/v1/payments"
LIST_FILTERS = {"status": PAYMENT_STATUSES}


async def get_payment(request: Request) -> Response:
    return await _owned(request, PAYMENTS, request.path_params["payment_id"], payment_body)


async def get_refund(request: Request) -> Response:
    return await _owned(request, REFUNDS, request.path_params["refund_id"], refund_body)


async def list_payments(request: Request) -> Response:
    merchant_id = await authenticate(request)
    page, filters = list_query(request.query_params, PAYMENT_ID_PREFIX, LIST_FILTERS)
    lister: PaymentLister = request.app.state.payment_lister
    found = await lister.page(merchant_id, page, filters.get("status"))
    return list_response(found, LIST_URL)


async def _owned(
    request: Request, kind: RecordKind[Record], object_id: str, history: HistoryRead
) -> Response:
    """One of this merchant's objects by id; another merchant's answers like a missing one."""
    merchant_id = await authenticate(request)
    lookup: Lookup = request.app.state.lookup
    body = await lookup.find(kind, merchant_id, object_id, history)
    if body is None:
        raise NotFound(f"No {kind.noun} '{object_id}'.")
    return Response(body, media_type=JSON_MEDIA_TYPE)
