"""The Dramatiq message format the web process publishes; the actors consume it.

This is the one place ``app`` knows what a worker message looks like. The actor side imports
these names, not the other way round, so the accept path never loads actor code.
"""

import dramatiq

PAYMENTS_QUEUE = "payments"
CHARGE_ACTOR = "charge_payment"


def charge_message(payment_id: str, partition: int) -> bytes:
    """An encoded message asking the charge actor to drive ``payment_id`` to its outcome."""
    message: dramatiq.Message[None] = dramatiq.Message(
        queue_name=PAYMENTS_QUEUE,
        actor_name=CHARGE_ACTOR,
        args=(payment_id,),
        kwargs={},
        # The broker keeps every message of a payment on the payment's own partition.
        options={"partition": partition},
    )
    return message.encode()
