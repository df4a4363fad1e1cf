"""The outbox: an event written in the same atomic step as the state change it announces.

Every final move of a payment or refund appends its event to the outbox stream of the
record's partition (``{ps:N}:outbox``) inside the compare-and-set script that makes the move,
so there is no state change without its event and no event without its state change. Workers
relay the outbox to PostgreSQL (``actors.relay``), from where events are listed and delivered.
"""

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.queue import keys

EVENT_ID_PREFIX = "evt_"
#: Outbox entry fields (short: an entry per final state change of every payment).
EVENT_FIELD = "e"
MERCHANT_FIELD = "m"
PAYMENT_FIELD = "p"

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

    def fields(self) -> list[str | bytes]:
        """The script arguments that append it to the outbox."""
        return [self.body, self.merchant_id, self.payment_id]


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
    return OutboxEvent(event_id, event_type, merchant_id, payment_id, created, body)


def from_outbox(fields: Mapping[bytes, bytes]) -> OutboxEvent:
    """An outbox entry back as the event it holds."""
    body = fields[EVENT_FIELD.encode()]
    document = json.loads(body)
    return OutboxEvent(
        id=document["id"],
        type=document["type"],
        merchant_id=fields[MERCHANT_FIELD.encode()].decode(),
        payment_id=fields[PAYMENT_FIELD.encode()].decode(),
        created=int(document["created"]),
        body=body,
    )
