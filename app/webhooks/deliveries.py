"""Webhook deliveries in PostgreSQL: one per event and subscribed endpoint, created in the
transaction that relays the event, so an event is never stored without its deliveries."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from app.db import rows_parameter

#: "Every event type", in an endpoint's ``enabled_events``.
ALL_EVENTS = "*"

_CREATE = text(
    """
    INSERT INTO webhook_deliveries
        (event_id, endpoint_id, merchant_id, payment_id, seq, status, next_attempt_at)
    SELECT event.id, endpoint.id, event.merchant_id, event.payment_id, event.seq, 'pending', now()
      FROM json_to_recordset(CAST(:rows AS json))
           AS event (id text, type text, merchant_id text, payment_id text, seq integer)
      JOIN webhook_endpoints AS endpoint ON endpoint.merchant_id = event.merchant_id
     WHERE endpoint.status = 'enabled'
       AND NOT endpoint.deleted
       AND (event.type = ANY(endpoint.enabled_events) OR :all = ANY(endpoint.enabled_events))
    ON CONFLICT DO NOTHING
    """
)
_PENDING = text(
    """
    SELECT DISTINCT payment_id, endpoint_id
      FROM webhook_deliveries
     WHERE payment_id = ANY(:payment_ids) AND status = 'pending'
    """
)


@dataclass(frozen=True)
class NewEvent:
    """What a delivery is made from: the event, and where it sits among its payment's."""

    id: str
    type: str
    merchant_id: str
    payment_id: str
    seq: int


def create(connection: Connection, events: Sequence[NewEvent]) -> None:
    """A pending delivery of each event to each of its merchant's endpoints subscribed to its
    type; none twice, however often an event is relayed."""
    if events:
        # One statement for the batch, as ``app.db.insert_rows`` writes one.
        connection.execute(_CREATE, {**rows_parameter(events), "all": ALL_EVENTS})


def pending_endpoints(connection: Connection, payment_ids: Sequence[str]) -> dict[str, list[str]]:
    """For each payment, the endpoints some of its deliveries still wait for."""
    by_payment: dict[str, list[str]] = defaultdict(list)
    if payment_ids:
        rows = connection.execute(_PENDING, {"payment_ids": list(set(payment_ids))})
        for payment_id, endpoint_id in rows:
            by_payment[payment_id].append(endpoint_id)
    return by_payment
