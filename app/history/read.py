"""Reading the history from PostgreSQL: an object by id, and a merchant's payments in list
order, for when Redis no longer holds them (or never held them: it lost them)."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select

from app.history.models import PaymentHistory, RefundHistory
from app.history.pages import PageRequest, keyset


@dataclass(frozen=True)
class HistoryRow:
    created_ms: int
    id: str
    status: str
    #: The object's JSON as last projected.
    body: str


def payment_body(engine: Engine, merchant_id: str, payment_id: str) -> str | None:
    query = select(PaymentHistory.body).where(
        PaymentHistory.id == payment_id, PaymentHistory.merchant_id == merchant_id
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar_one_or_none()


def refund_body(engine: Engine, merchant_id: str, refund_id: str) -> str | None:
    query = select(RefundHistory.body).where(
        RefundHistory.id == refund_id, RefundHistory.merchant_id == merchant_id
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar_one_or_none()


_COLUMNS = (
    PaymentHistory.created_ms,
    PaymentHistory.id,
    PaymentHistory.status,
    PaymentHistory.body,
)


def payments_page(
    engine: Engine, merchant_id: str, page: PageRequest, status: str | None
) -> list[HistoryRow]:
    """The merchant's payments on the page's side of its cursor, in reading order, one more
    than the page (fewer when there are no more)."""
    query = select(*_COLUMNS).where(PaymentHistory.merchant_id == merchant_id)
    if status is not None:
        query = query.where(PaymentHistory.status == status)
    query = keyset(query, PaymentHistory.created_ms, PaymentHistory.id, page)
    with engine.connect() as connection:
        return [HistoryRow(*row) for row in connection.execute(query)]


def payments_by_id(engine: Engine, merchant_id: str, ids: Sequence[str]) -> dict[str, HistoryRow]:
    query = select(*_COLUMNS).where(
        PaymentHistory.merchant_id == merchant_id, PaymentHistory.id.in_(list(ids))
    )
    with engine.connect() as connection:
        return {row.id: HistoryRow(*row) for row in connection.execute(query)}
