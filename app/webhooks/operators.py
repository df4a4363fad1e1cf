"""What operators read about webhooks (the console and the command line), across merchants:
endpoints with their delivery health, failing deliveries, an event with every delivery and
attempt, and resending an event whoever's it is."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from app.errors import NotFound
from app.webhooks import resend

#: Rows one console page or command shows, at most.
ROWS_SHOWN_MAX = 100

_ENDPOINTS = text(
    """
    SELECT endpoint.id, endpoint.merchant_id, endpoint.url, endpoint.status,
           endpoint.disabled_reason, endpoint.deleted,
           count(*) FILTER (WHERE delivery.status = 'pending') AS pending,
           count(*) FILTER (WHERE delivery.status = 'pending' AND delivery.attempts > 0)
               AS retrying,
           count(*) FILTER (WHERE delivery.status = 'failed') AS failed
      FROM webhook_endpoints AS endpoint
      LEFT JOIN webhook_deliveries AS delivery ON delivery.endpoint_id = endpoint.id
     GROUP BY endpoint.id
     ORDER BY endpoint.created_ms DESC
     LIMIT :limit
    """
)
#: Deliveries that failed for good, or are waiting to be retried after a failure.
_FAILING = text(
    """
    SELECT delivery.event_id, delivery.endpoint_id, delivery.merchant_id, delivery.payment_id,
           delivery.status, delivery.attempts, delivery.next_attempt_at, endpoint.url,
           last.status_code, last.error, last.attempted_at
      FROM webhook_deliveries AS delivery
      JOIN webhook_endpoints AS endpoint ON endpoint.id = delivery.endpoint_id
      LEFT JOIN LATERAL (
          SELECT status_code, error, attempted_at FROM webhook_attempts AS attempt
           WHERE attempt.event_id = delivery.event_id
             AND attempt.endpoint_id = delivery.endpoint_id
           ORDER BY attempted_at DESC LIMIT 1) AS last ON true
     WHERE delivery.status = 'failed' OR (delivery.status = 'pending' AND delivery.attempts > 0)
     ORDER BY delivery.updated_at DESC
     LIMIT :limit
    """
)
_EVENTS = text(
    """
    SELECT id, type, merchant_id, payment_id, seq, created_ms FROM events
     WHERE (CAST(:merchant_id AS text) IS NULL OR merchant_id = :merchant_id)
       AND (CAST(:payment_id AS text) IS NULL OR payment_id = :payment_id)
       AND (CAST(:type AS text) IS NULL OR type = :type)
     ORDER BY created_ms DESC, id DESC
     LIMIT :limit
    """
)
_EVENT = text("SELECT id, type, merchant_id, payment_id, seq, body FROM events WHERE id = :id")
_DELIVERIES = text(
    """
    SELECT endpoint_id, status, attempts, next_attempt_at, held_until FROM webhook_deliveries
     WHERE event_id = :id ORDER BY endpoint_id
    """
)
_ATTEMPTS = text(
    """
    SELECT endpoint_id, attempted_at, status_code, latency_ms, response_head, error
      FROM webhook_attempts WHERE event_id = :id
     ORDER BY attempted_at DESC, id DESC
     LIMIT :limit
    """
)


def _dicts(rows: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in rows]


def endpoints(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return _dicts(connection.execute(_ENDPOINTS, {"limit": ROWS_SHOWN_MAX}))


def failing(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return _dicts(connection.execute(_FAILING, {"limit": ROWS_SHOWN_MAX}))


def events(
    engine: Engine,
    merchant_id: str | None = None,
    payment_id: str | None = None,
    event_type: str | None = None,
    limit: int = ROWS_SHOWN_MAX,
) -> list[dict[str, Any]]:
    found = {
        "merchant_id": merchant_id,
        "payment_id": payment_id,
        "type": event_type,
        "limit": min(limit, ROWS_SHOWN_MAX),
    }
    with engine.connect() as connection:
        return _dicts(connection.execute(_EVENTS, found))


@dataclass(frozen=True)
class EventDetail:
    event: dict[str, Any]
    deliveries: list[dict[str, Any]]
    attempts: list[dict[str, Any]]


def event(engine: Engine, event_id: str) -> EventDetail | None:
    with engine.connect() as connection:
        found = connection.execute(_EVENT, {"id": event_id}).one_or_none()
        if found is None:
            return None
        deliveries = _dicts(connection.execute(_DELIVERIES, {"id": event_id}))
        attempts = _dicts(connection.execute(_ATTEMPTS, {"id": event_id, "limit": ROWS_SHOWN_MAX}))
    return EventDetail(dict(found._mapping), deliveries, attempts)


def resend_any(engine: Engine, event_id: str) -> list[tuple[str, str]]:
    """Resend the event on its merchant's behalf; the chains to queue."""
    found = event(engine, event_id)
    if found is None:
        raise NotFound(f"No event '{event_id}'.")
    return resend.resend(engine, str(found.event["merchant_id"]), event_id)
