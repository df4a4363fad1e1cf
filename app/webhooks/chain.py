"""A payment's deliveries to one endpoint, as the delivery actor works through them: in seq
order, one attempt at a time, each held by its worker while in flight.

``claim`` picks the chain's first pending delivery and holds it (``held_until``) when it is due
and free; ``finish`` stores an attempt and what it decided (succeeded, retry at, failed, the
endpoint gone), many attempts per transaction; ``sweep`` finds due chains whose message was
lost (a Redis failover, a worker killed between its write and its enqueue) so they run again.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, text

ENDPOINT_ENABLED = "enabled"
DISABLED_GONE = "The endpoint answered 410 Gone."

_HEAD = text(
    """
    SELECT delivery.event_id, delivery.attempts, delivery.next_attempt_at,
           delivery.held_until, now() AS now, event.body, endpoint.url, endpoint.secret,
           endpoint.status AS endpoint_status, endpoint.deleted AS endpoint_deleted
      FROM webhook_deliveries AS delivery
      JOIN events AS event ON event.id = delivery.event_id
      JOIN webhook_endpoints AS endpoint ON endpoint.id = delivery.endpoint_id
     WHERE delivery.payment_id = :payment_id AND delivery.endpoint_id = :endpoint_id
       AND delivery.status = 'pending'
     ORDER BY delivery.seq
     LIMIT 1
       FOR UPDATE OF delivery
    """
)
_HOLD = text(
    """
    UPDATE webhook_deliveries
       SET held_until = now() + make_interval(secs => CAST(:hold_s AS float8)),
           updated_at = now()
     WHERE event_id = :event_id AND endpoint_id = :endpoint_id
    """
)
_ABANDON = text(
    """
    UPDATE webhook_deliveries SET status = 'failed', held_until = NULL, updated_at = now()
     WHERE event_id = :event_id AND endpoint_id = :endpoint_id
    """
)
_RECORD_ATTEMPT = text(
    """
    INSERT INTO webhook_attempts
        (event_id, endpoint_id, attempted_at, status_code, latency_ms, response_head, error)
    VALUES (:event_id, :endpoint_id, :attempted_at, :status_code, :latency_ms, :response_head,
            :error)
    """
)
_SETTLE = text(
    """
    UPDATE webhook_deliveries
       SET status = :status, attempts = attempts + 1, held_until = NULL, updated_at = now(),
           next_attempt_at = COALESCE(
               now() + make_interval(secs => CAST(:retry_in_s AS float8)), next_attempt_at)
     WHERE event_id = :event_id AND endpoint_id = :endpoint_id
    """
)
_DISABLE = text(
    """
    UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = :reason
     WHERE id = :endpoint_id
    """
)
_MORE = text(
    """
    SELECT EXISTS (SELECT 1 FROM webhook_deliveries
                    WHERE payment_id = :payment_id AND endpoint_id = :endpoint_id
                      AND status = 'pending')
    """
)
#: Chain heads due for longer than ``overdue_s`` and free: their message is gone. Marking them
#: due now keeps the next sweeps from queueing them again while that message is on its way.
_SWEEP = text(
    """
    UPDATE webhook_deliveries AS swept SET next_attempt_at = now()
      FROM (SELECT head.event_id, head.endpoint_id
              FROM webhook_deliveries AS head
             WHERE head.status = 'pending'
               AND head.next_attempt_at <= now() - make_interval(secs => CAST(:overdue_s AS float8))
               AND (head.held_until IS NULL OR head.held_until < now())
               AND NOT EXISTS (
                   SELECT 1 FROM webhook_deliveries AS earlier
                    WHERE earlier.payment_id = head.payment_id
                      AND earlier.endpoint_id = head.endpoint_id
                      AND earlier.status = 'pending' AND earlier.seq < head.seq)
             ORDER BY head.next_attempt_at
             LIMIT :limit
               FOR UPDATE SKIP LOCKED) AS due
     WHERE swept.event_id = due.event_id AND swept.endpoint_id = due.endpoint_id
    RETURNING swept.endpoint_id, swept.payment_id
    """
)


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker now holds: send it, then ``finish`` it."""

    event_id: str
    endpoint_id: str
    #: Attempts made before this one.
    attempts: int
    body: str
    url: str
    secret: str


@dataclass(frozen=True)
class Waiting:
    """The chain's first pending delivery is not due yet, or another worker holds it."""

    until: datetime


@dataclass(frozen=True)
class Skipped:
    """The chain's first delivery was abandoned (its endpoint is deleted or disabled)."""

    event_id: str


Head = Claimed | Waiting | Skipped | None


def claim(engine: Engine, endpoint_id: str, payment_id: str, hold_s: float) -> Head:
    """The chain's first pending delivery, held for ``hold_s`` when it is due and free; None
    when nothing of the chain is pending."""
    ids = {"endpoint_id": endpoint_id, "payment_id": payment_id}
    with engine.begin() as connection:
        head = connection.execute(_HEAD, ids).one_or_none()
        if head is None:
            return None
        delivery = {"event_id": head.event_id, "endpoint_id": endpoint_id}
        if head.endpoint_deleted or head.endpoint_status != ENDPOINT_ENABLED:
            connection.execute(_ABANDON, delivery)
            return Skipped(head.event_id)
        if head.held_until is not None and head.held_until > head.now:
            return Waiting(head.held_until)
        if head.next_attempt_at > head.now:
            return Waiting(head.next_attempt_at)
        connection.execute(_HOLD, {**delivery, "hold_s": hold_s})
    return Claimed(head.event_id, endpoint_id, head.attempts, head.body, head.url, head.secret)


@dataclass(frozen=True)
class Attempt:
    """One try at a delivery, as the attempts log keeps it."""

    event_id: str
    endpoint_id: str
    attempted_at: datetime
    #: None when no HTTP answer came (refused, timed out, an address not allowed).
    status_code: int | None
    latency_ms: int
    response_head: str
    error: str | None


@dataclass(frozen=True)
class Finished:
    """An attempt and what it decided for its delivery."""

    attempt: Attempt
    payment_id: str
    #: ``succeeded``, ``pending`` (to be retried) or ``failed`` (for good).
    status: str
    #: For ``pending``: seconds until the retry.
    retry_in_s: float | None = None
    #: The endpoint answered 410 Gone: no more deliveries to it.
    endpoint_gone: bool = False


def _settle(connection: Connection, finished: Finished) -> None:
    attempt = finished.attempt
    ids = {"event_id": attempt.event_id, "endpoint_id": attempt.endpoint_id}
    connection.execute(
        _SETTLE, {**ids, "status": finished.status, "retry_in_s": finished.retry_in_s}
    )
    if finished.endpoint_gone:
        connection.execute(_DISABLE, {"endpoint_id": attempt.endpoint_id, "reason": DISABLED_GONE})


def finish(engine: Engine, batch: Sequence[Finished]) -> list[bool]:
    """Store a batch of attempts and their outcomes in one transaction; for each, whether its
    chain has a next delivery to go on with now."""
    with engine.begin() as connection:
        connection.execute(_RECORD_ATTEMPT, [vars(finished.attempt) for finished in batch])
        for finished in batch:
            _settle(connection, finished)
        return [_goes_on(connection, finished) for finished in batch]


def _goes_on(connection: Connection, finished: Finished) -> bool:
    if finished.status == "pending":
        return False
    ids = {"payment_id": finished.payment_id, "endpoint_id": finished.attempt.endpoint_id}
    return connection.execute(_MORE, ids).scalar_one()


def sweep(engine: Engine, overdue_s: float, limit: int) -> list[tuple[str, str]]:
    """(endpoint, payment) of each due chain whose message must have been lost."""
    with engine.begin() as connection:
        rows = connection.execute(_SWEEP, {"overdue_s": overdue_s, "limit": limit}).all()
    return sorted({(row.endpoint_id, row.payment_id) for row in rows})
