"""Reading a merchant's events from PostgreSQL, where the relay keeps them."""

from sqlalchemy import Engine, select

from app.events.models import EventRow
from app.history.pages import Page, PageRequest, keyset, page_of


def find(engine: Engine, merchant_id: str, event_id: str) -> str | None:
    """The event's JSON, if it is this merchant's and has been relayed."""
    query = select(EventRow.body).where(
        EventRow.id == event_id, EventRow.merchant_id == merchant_id
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar_one_or_none()


def list_page(
    engine: Engine, merchant_id: str, page: PageRequest, event_type: str | None = None
) -> Page:
    query = select(EventRow.body).where(EventRow.merchant_id == merchant_id)
    if event_type is not None:
        query = query.where(EventRow.type == event_type)
    query = keyset(query, EventRow.created_ms, EventRow.id, page)
    with engine.connect() as connection:
        return page_of(connection.execute(query).scalars().all(), page)
