"""The relay: carries one event from Redis, where its move stored it, to PostgreSQL.

There the event is kept for listing and delivery, the history takes the state it announces,
and its webhook deliveries are created, in one transaction (``app.events.relay``); then the
payment's delivery chains are queued and the stored event is deleted.

The worker whose move published the event relays it itself, right after the move and before
its message is acknowledged (``relay_own``): no second message per event, and the event reaches
PostgreSQL as soon as it can. Only what that worker cannot write (PostgreSQL down, or anything
else that fails) is handed to the relay's queue, whose actor waits the outage out. A worker
dying at any point leaves its message pending with the record still naming the event, and the
rerun relays it; what was already written is found unchanged.
"""

import json
import logging
from collections.abc import Mapping
from typing import Any

import dramatiq

from actors.middleware.retries import Defer, actor_options
from actors.runtime import Runtime, runtime
from actors.state import Handoff
from app.events.outbox import EVENT_ID_PREFIX
from app.events.relay import Relayed, StoredEvent
from app.history.projection import (
    PaymentProjection,
    RefundProjection,
    payment_from_event,
    project_payment,
    refund_from_event,
)
from app.payments.record import PAYMENTS, PaymentRecord
from app.queue import keys
from app.queue.dispatch import EVENTS_QUEUE, RELAY_ACTOR, WEBHOOKS_QUEUE, deliver_message
from app.settings import RetryPolicy

#: Postgres outages are waited out by ``Defer`` outside the retry budget; these retries are
#: for anything else, before the message is dead-lettered for an operator.
RELAY_POLICY = RetryPolicy(
    retries_max=20, backoff_ms_min=1_000, backoff_ms_max=60_000, time_limit_s=60
)
PAYMENT_EVENT_PREFIX = "payment."
REFUND_EVENT_PREFIX = "refund."
#: The stored event's field naming the record whose move published it.
RECORD_FIELD = b"record"
logger = logging.getLogger(__name__)


def stored_event(event_id: str, raw: Mapping[bytes, bytes]) -> StoredEvent:
    """The event from its Redis hash (see ``actors/lua/advance.lua``)."""
    body = raw[b"body"].decode()
    return StoredEvent(
        id=event_id,
        type=json.loads(body)["type"],
        merchant_id=raw[b"merchant"].decode(),
        payment_id=raw[b"payment"].decode(),
        seq=int(raw[b"seq"]),
        created_ms=keys.created_ms_of(event_id, EVENT_ID_PREFIX),
        body=body,
    )


def projections(
    event: StoredEvent, payment_record: PaymentRecord | None
) -> tuple[PaymentProjection | None, RefundProjection | None]:
    """What the history should now hold of the event's payment and refund: the payment as its
    record shows it (or, once the record has left Redis, as its own event carried it)."""
    payment: PaymentProjection | None = None
    if payment_record is not None:
        payment = project_payment(payment_record)
    elif event.type.startswith(PAYMENT_EVENT_PREFIX):
        payment = payment_from_event(event.merchant_id, event.seq, carried(event))
    refund = None
    if event.type.startswith(REFUND_EVENT_PREFIX):
        refund = refund_from_event(event.merchant_id, carried(event))
    return payment, refund


def carried(event: StoredEvent) -> dict[str, Any]:
    """The object the event carries, as GET showed it after the move."""
    obj: dict[str, Any] = json.loads(event.body)["data"]["object"]
    return obj


async def relay(context: Runtime, event_id: str) -> None:
    """The relay actor's path: an event handed to the queue."""
    partitions = context.settings.stream_partitions
    partition = keys.partition_of(event_id, EVENT_ID_PREFIX, partitions)
    if partition is None:
        raise ValueError(f"{event_id!r} is not an event id of this deployment")
    event_key = keys.event_key(partition, event_id)
    raw = await context.batcher.command("HGETALL", event_key)
    if not raw:
        # Deleted once relayed: this is a second message for an event already written.
        logger.info("%s was relayed already", event_id)
        return
    await carry(context, partition, stored_event(event_id, raw))
    record_key = raw.get(RECORD_FIELD)
    if record_key is None:
        # Stored before events named their record: nothing names the event but the queue.
        await context.batcher.command("DEL", event_key)
        return
    await context.outbox.close(record_key.decode(), event_id, Handoff.RELAYED)


async def relay_own(
    context: Runtime,
    record_key: str,
    event_id: str,
    payment: PaymentRecord | None,
    event: StoredEvent | None = None,
) -> None:
    """An event a move of this worker published, relayed at once; handed to the relay's queue
    when it cannot be written now, so the mover's own work is never held up by it. ``payment``
    is the record that published it when that is a payment, as the move left it; ``event``
    the event as the move stored it, when this run made that move (else it is read back)."""
    partition = keys.partition_of_key(record_key)
    if event is None:
        raw = await context.batcher.command("HGETALL", keys.event_key(partition, event_id))
        event = stored_event(event_id, raw) if raw else None
    if event is not None:
        try:
            await carry(context, partition, event, payment)
        except Exception as error:  # whatever it is, the relay actor retries it
            logger.warning(
                "%s handed to the relay's queue: %s",
                event_id,
                error,
                exc_info=not isinstance(error, Defer),
            )
            await context.outbox.close(record_key, event_id, Handoff.QUEUE)
            return
    await context.outbox.close(record_key, event_id, Handoff.RELAYED)


async def carry(
    context: Runtime, partition: int, event: StoredEvent, known: PaymentRecord | None = None
) -> None:
    """``event`` written to PostgreSQL with its history and deliveries, and the deliveries'
    chains queued; the event's payment is read from Redis unless it is ``known``."""
    payment_record = known if known is not None and known.id == event.payment_id else None
    if payment_record is None:
        raw = await context.batcher.command(
            "HGETALL", keys.payment_key(partition, event.payment_id)
        )
        payment_record = PAYMENTS.decode(raw) if raw else None
    payment, refund = projections(event, payment_record)
    endpoints = await context.relay.durably(Relayed(event, payment, refund), event.id)
    stream = keys.stream_key(partition, WEBHOOKS_QUEUE)
    for endpoint_id in endpoints:
        message = deliver_message(endpoint_id, event.payment_id, partition)
        await context.batcher.command("XADD", stream, "*", keys.MESSAGE_FIELD, message)


@dramatiq.actor(
    actor_name=RELAY_ACTOR,
    queue_name=EVENTS_QUEUE,
    **actor_options(RELAY_POLICY),
)
async def relay_event(event_id: str) -> None:
    await relay(runtime(), event_id)
