"""The outbox: an event written in the same atomic step as the state change it announces.

Every final move of a payment or refund stores its event next to the record
(``{ps:N}:event:<id>``: the JSON merchants get, whose it is, and its sequence number among its
payment's events), inside the compare-and-set script that makes the move: there is no state
change without its event and no event without its state change. The worker that made the move
relays the event to PostgreSQL (``actors.relay``), from where events are listed and delivered
in each payment's sequence; the relay's queue takes what it cannot.
"""

import json
import time
from dataclasses import dataclass
from typing import Any

from app.queue import keys
from app.queue.dispatch import relay_message

EVENT_ID_PREFIX = "evt_"

#: Every event type, as merchants subscribe to them.
EVENT_TYPES = (
    "payment.succeeded",
    "payment.failed",
    "payment.requires_action",
    "refund.succeeded",
    "refund.failed",
)


@dataclass(frozen=True)
class OutboxEvent:
    """An event on its way out: the JSON merchants get, and whose it is."""

    id: str
    type: str
    merchant_id: str
    #: Events of one payment (its own and its refunds') are delivered in order.
    payment_id: str
    #: Unix seconds.
    created: int
    body: bytes
    partition: int

    def script_arguments(self) -> list[str | bytes]:
        """What a move's script needs to store the event, with the relay's message for it."""
        message = relay_message(self.id, self.partition)
        return [self.id, self.body, self.merchant_id, self.payment_id, message]


#: A move that publishes nothing passes these instead.
NO_EVENT_ARGUMENTS: list[str | bytes] = ["", "", "", "", ""]


def new_event(
    event_type: str, partition: int, merchant_id: str, payment_id: str, data: dict[str, Any]
) -> OutboxEvent:
    """An event carrying ``data`` (the object as GET shows it after the change)."""
    event_id = keys.new_id(EVENT_ID_PREFIX, partition)
    created = int(time.time())
    document = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created,
        "data": {"object": data},
    }
    body = json.dumps(document, separators=(",", ":")).encode()
    return OutboxEvent(event_id, event_type, merchant_id, payment_id, created, body, partition)
