"""The Dramatiq message format the web process publishes; the actors consume it.

This is the one place ``app`` knows what a worker message looks like. The actor side imports
these names, not the other way round, so the accept path never loads actor code.
"""

import dramatiq

PAYMENTS_QUEUE = "payments"
CHARGE_ACTOR = "charge_payment"
REFUND_ACTOR = "refund_payment"


#: The message option carrying the id of the request that created the payment or refund, so
#: the worker's log lines about it carry that id too.
REQUEST_ID_OPTION = "request_id"


def charge_message(payment_id: str, partition: int, request_id: str | None = None) -> bytes:
    """An encoded message asking the charge actor to drive ``payment_id`` to its outcome."""
    return _message(CHARGE_ACTOR, payment_id, partition, request_id)


def refund_message(refund_id: str, partition: int, request_id: str | None = None) -> bytes:
    """An encoded message asking the refund actor to drive ``refund_id`` to its outcome."""
    return _message(REFUND_ACTOR, refund_id, partition, request_id)


def _message(actor_name: str, object_id: str, partition: int, request_id: str | None) -> bytes:
    # The broker keeps every message of a payment (refunds too) on the payment's partition.
    options: dict[str, object] = {"partition": partition}
    if request_id is not None:
        options[REQUEST_ID_OPTION] = request_id
    message: dramatiq.Message[None] = dramatiq.Message(
        queue_name=PAYMENTS_QUEUE,
        actor_name=actor_name,
        args=(object_id,),
        kwargs={},
        options=options,
    )
    return message.encode()
