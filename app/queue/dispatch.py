"""The Dramatiq message format the web process publishes; the actors consume it.

This is the one place ``app`` knows what a worker message looks like. The actor side imports
these names, not the other way round, so the accept path never loads actor code.
"""

import dramatiq

PAYMENTS_QUEUE = "payments"
CHARGE_ACTOR = "charge_payment"
REFUND_ACTOR = "refund_payment"
PROVIDER_EVENT_ACTOR = "settle_from_provider_event"


def charge_message(payment_id: str, partition: int) -> bytes:
    """An encoded message asking the charge actor to drive ``payment_id`` to its outcome."""
    return _message(CHARGE_ACTOR, payment_id, partition)


def refund_message(refund_id: str, partition: int) -> bytes:
    """An encoded message asking the refund actor to drive ``refund_id`` to its outcome."""
    return _message(REFUND_ACTOR, refund_id, partition)


def provider_event_message(event_json: str, received_ms: int, partition: int) -> bytes:
    """An encoded message asking the provider-event actor to apply one verified webhook event
    (``app.providers.events`` JSON, received at unix ``received_ms``) to its payment or refund,
    on the payment's partition."""
    return _message(PROVIDER_EVENT_ACTOR, event_json, partition, received_ms)


def _message(actor_name: str, argument: str, partition: int, *more: int) -> bytes:
    message: dramatiq.Message[None] = dramatiq.Message(
        queue_name=PAYMENTS_QUEUE,
        actor_name=actor_name,
        args=(argument, *more),
        kwargs={},
        # The broker keeps every message of a payment (refunds too) on the payment's partition.
        options={"partition": partition},
    )
    return message.encode()
