"""The Dramatiq message format the web process publishes; the actors consume it.

This is the one place ``app`` knows what a worker message looks like. The actor side imports
these names, not the other way round, so the accept path never loads actor code.
"""

import time
import uuid

import msgspec

PAYMENTS_QUEUE = "payments"
#: Events and their webhooks have queues of their own: a backlog of deliveries to a slow
#: merchant never holds a payment back.
EVENTS_QUEUE = "events"
WEBHOOKS_QUEUE = "webhooks"
CHARGE_ACTOR = "charge_payment"
REFUND_ACTOR = "refund_payment"
PROVIDER_EVENT_ACTOR = "settle_from_provider_event"
RELAY_ACTOR = "relay_event"
DELIVER_ACTOR = "deliver_webhook"


#: The message option carrying the id of the request that created the payment or refund, so
#: the worker's log lines about it carry that id too.
REQUEST_ID_OPTION = "request_id"


def charge_message(payment_id: str, partition: int, request_id: str | None = None) -> bytes:
    """An encoded message asking the charge actor to drive ``payment_id`` to its outcome."""
    return _message(CHARGE_ACTOR, payment_id, partition, request_id)


def refund_message(refund_id: str, partition: int, request_id: str | None = None) -> bytes:
    """An encoded message asking the refund actor to drive ``refund_id`` to its outcome."""
    return _message(REFUND_ACTOR, refund_id, partition, request_id)


def provider_event_message(event_json: str, received_ms: int, partition: int) -> bytes:
    """An encoded message asking the provider-event actor to apply one verified webhook event
    (``app.providers.events`` JSON, received at unix ``received_ms``) to its payment or refund,
    on the payment's partition."""
    return _message(PROVIDER_EVENT_ACTOR, event_json, partition, more_args=(received_ms,))


def relay_message(event_id: str, partition: int) -> bytes:
    """An encoded message asking the relay to carry event ``event_id`` to PostgreSQL."""
    return _message(RELAY_ACTOR, event_id, partition, queue_name=EVENTS_QUEUE)


def deliver_message(endpoint_id: str, payment_id: str, partition: int) -> bytes:
    """An encoded message asking for the next due webhook of payment ``payment_id`` to
    endpoint ``endpoint_id``: one chain per payment and endpoint keeps its events in order."""
    return _message(
        DELIVER_ACTOR, endpoint_id, partition, queue_name=WEBHOOKS_QUEUE, more_args=(payment_id,)
    )


def _message(
    actor_name: str,
    object_id: str,
    partition: int,
    request_id: str | None = None,
    *,
    queue_name: str = PAYMENTS_QUEUE,
    more_args: tuple[str | int, ...] = (),
) -> bytes:
    # The broker keeps every message of a payment (its refunds and events too) on the
    # payment's partition.
    options: dict[str, object] = {"partition": partition}
    if request_id is not None:
        options[REQUEST_ID_OPTION] = request_id
    message = MessageData(
        queue_name=queue_name,
        actor_name=actor_name,
        args=(object_id, *more_args),
        kwargs={},
        options=options,
        message_id=str(uuid.uuid4()),
        message_timestamp=time.time_ns() // 1_000_000,
    )
    return _ENCODER.encode(message)


class MessageData(msgspec.Struct, frozen=True):
    """What ``dramatiq.Message.encode`` writes, field for field and in its order, encoded
    without building a ``dramatiq.Message`` (a dataclass copied to a dict, then json.dumps):
    the accept path encodes one per payment."""

    queue_name: str
    actor_name: str
    args: tuple[str | int, ...]
    kwargs: dict[str, object]
    options: dict[str, object]
    message_id: str
    #: Unix milliseconds, as Dramatiq stamps its messages.
    message_timestamp: int


_ENCODER = msgspec.json.Encoder()
