"""Reading an event's attempts, and sending an event again: what the API, the console and the
command line share, in PostgreSQL."""

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from app.errors import DeliveryInFlight, NotFound
from app.webhooks import deliveries

#: Attempts one answer lists, newest first; an event rarely has more than the schedule's 8 per
#: endpoint.
ATTEMPTS_LISTED_MAX = 100

_EVENT = text(
    """
    SELECT id, type, merchant_id, payment_id, seq FROM events
     WHERE id = :event_id AND merchant_id = :merchant_id
    """
)
_ATTEMPTS = text(
    """
    SELECT id, event_id, endpoint_id, attempted_at, status_code, latency_ms, response_head, error
      FROM webhook_attempts WHERE event_id = :event_id
     ORDER BY attempted_at DESC, id DESC
     LIMIT :limit
    """
)
#: Locks the event's deliveries, so no worker claims one between this check and the update.
_HELD = text(
    """
    SELECT held_until - now() AS held_for FROM webhook_deliveries
     WHERE event_id = :event_id
       FOR UPDATE
    """
)
#: Due now, with a fresh schedule, to every endpoint still taking deliveries.
_AGAIN = text(
    """
    UPDATE webhook_deliveries AS delivery
       SET status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
      FROM webhook_endpoints AS endpoint
     WHERE delivery.event_id = :event_id AND endpoint.id = delivery.endpoint_id
       AND endpoint.status = 'enabled' AND NOT endpoint.deleted
    RETURNING delivery.endpoint_id, delivery.payment_id
    """
)


@dataclass(frozen=True)
class Attempts:
    data: list[dict[str, Any]]
    has_more: bool


def _unix_s(moment: datetime) -> int:
    return int(moment.timestamp())


def attempts(engine: Engine, merchant_id: str, event_id: str) -> Attempts:
    with engine.connect() as connection:
        _event(connection, merchant_id, event_id)
        rows = connection.execute(
            _ATTEMPTS, {"event_id": event_id, "limit": ATTEMPTS_LISTED_MAX + 1}
        ).all()
    data = [
        {
            "object": "webhook_attempt",
            "id": f"wa_{row.id}",
            "event_id": row.event_id,
            "endpoint_id": row.endpoint_id,
            "attempted_at": _unix_s(row.attempted_at),
            "status_code": row.status_code,
            "latency_ms": row.latency_ms,
            "response_head": row.response_head,
            "error": row.error,
        }
        for row in rows[:ATTEMPTS_LISTED_MAX]
    ]
    return Attempts(data, len(rows) > ATTEMPTS_LISTED_MAX)


def _event(connection: Connection, merchant_id: str, event_id: str) -> Any:
    event = connection.execute(
        _EVENT, {"event_id": event_id, "merchant_id": merchant_id}
    ).one_or_none()
    if event is None:
        raise NotFound(f"No event '{event_id}'.")
    return event


def resend(engine: Engine, merchant_id: str, event_id: str) -> list[tuple[str, str]]:
    """Every delivery of the event due again now (and one made to each endpoint subscribed
    since); (endpoint, payment) of each chain to queue. 409 while an attempt is in flight,
    so a resend never sends the same event twice at once."""
    with engine.begin() as connection:
        event = _event(connection, merchant_id, event_id)
        deliveries.create(
            connection,
            [deliveries.NewEvent(event.id, event.type, merchant_id, event.payment_id, event.seq)],
        )
        holds = connection.execute(_HELD, {"event_id": event_id}).scalars().all()
        held_for = max((hold for hold in holds if hold is not None), default=None)
        if held_for is not None and held_for.total_seconds() > 0:
            raise DeliveryInFlight(
                f"A delivery of '{event_id}' is in flight; resend once it is done.",
                retry_after_s=max(1, math.ceil(held_for.total_seconds())),
            )
        rows = connection.execute(_AGAIN, {"event_id": event_id}).all()
    return [(row.endpoint_id, row.payment_id) for row in rows]
