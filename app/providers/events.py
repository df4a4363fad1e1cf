"""Provider webhooks in our vocabulary: what one verified event says about one of our objects.

Each provider's ``webhooks`` module verifies a delivery's signature and reads it into
``ProviderEvent`` records; the web side stores them and a worker applies each one's ``answer``
to its payment or refund exactly as it would a lookup's. A record travels from the web to the
worker as JSON (``encode``/``decode``), so this is the one place that format is defined.
"""

import enum
import json
from dataclasses import asdict, dataclass
from typing import Any

from app.providers.base import NextAction, Outcome, ProviderAnswer


class WebhookRejected(ValueError):
    """A delivery whose signature is missing, wrong or stale: nothing in it may be believed."""


class Subject(enum.Enum):
    #: A charge: the answer is what a lookup of the payment would say.
    PAYMENT = "payment"
    #: A refund: the answer is what a lookup of the refund would say.
    REFUND = "refund"


@dataclass(frozen=True)
class ProviderEvent:
    provider: str
    #: Unique per provider and object: a duplicate delivery carries the same id.
    event_id: str
    #: The provider's own event type, for logs and audit only.
    type: str
    subject: Subject
    #: The payment the event is about (for a refund: the payment it refunds).
    payment_id: str
    #: Our refund id when the provider echoes it (Stripe's refund metadata); None otherwise.
    refund_id: str | None
    #: The provider's object's money, checked against our record before anything is applied.
    amount: int
    currency: str
    answer: ProviderAnswer


def encode(event: ProviderEvent) -> str:
    fields = asdict(event)
    fields["subject"] = event.subject.value
    fields["answer"]["outcome"] = event.answer.outcome.value
    return json.dumps(fields, separators=(",", ":"))


def decode(text: str) -> ProviderEvent:
    fields: dict[str, Any] = json.loads(text)
    answer = fields.pop("answer")
    next_action = answer.pop("next_action")
    return ProviderEvent(
        **fields
        | {
            "subject": Subject(fields["subject"]),
            "answer": ProviderAnswer(
                **answer
                | {
                    "outcome": Outcome(answer["outcome"]),
                    "next_action": None if next_action is None else NextAction(**next_action),
                }
            ),
        }
    )
