"""The relay's write: events carried from Redis into PostgreSQL, a batch per transaction.

In the one transaction that stores an event, the history takes the state it announces and its
webhook deliveries are created; so once an event is in PostgreSQL, nothing about it can still
be missing there, and relaying it again (a worker died before it could tell Redis) changes
nothing.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from app.db import insert_rows, rows_parameter
from app.events.models import EventRow
from app.history.projection import (
    PaymentProjection,
    RefundProjection,
    write_payments,
    write_refunds,
)
from app.webhooks import deliveries


@dataclass(frozen=True)
class StoredEvent:
    """An event as a final move stored it next to its record."""

    id: str
    type: str
    merchant_id: str
    payment_id: str
    #: Its place among its payment's events, from 1.
    seq: int
    created_ms: int
    #: The event JSON, exactly as merchants get it and webhooks sign it.
    body: str


_INSERT_EVENTS = insert_rows(EventRow, StoredEvent, "ON CONFLICT DO NOTHING")


@dataclass(frozen=True)
class Relayed:
    """One event to write, with the state of its objects to keep in the history."""

    event: StoredEvent
    payment: PaymentProjection | None
    refund: RefundProjection | None


def write(engine: Engine, batch: Sequence[Relayed]) -> list[list[str]]:
    """Store ``batch`` in one transaction; for each item, the endpoints its payment still has
    deliveries pending for (the deliveries to run next)."""
    events = [item.event for item in batch]
    with engine.begin() as connection:
        connection.execute(_INSERT_EVENTS, rows_parameter(events))
        write_payments(connection, [item.payment for item in batch if item.payment is not None])
        write_refunds(connection, [item.refund for item in batch if item.refund is not None])
        deliveries.create(
            connection,
            [deliveries.NewEvent(e.id, e.type, e.merchant_id, e.payment_id, e.seq) for e in events],
        )
        pending = deliveries.pending_endpoints(connection, [e.payment_id for e in events])
    return [pending.get(event.payment_id, []) for event in events]
