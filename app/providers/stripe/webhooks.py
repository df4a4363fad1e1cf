"""Stripe's webhooks: verified by the official SDK, read into ``ProviderEvent`` records.

Stripe signs ``"{t}.{raw body}"`` with HMAC-SHA256 under the endpoint's ``whsec_`` secret and
sends ``Stripe-Signature: t=…,v1=…``; ``Webhook.construct_event`` checks it in constant time and
refuses a timestamp older than the tolerance, so a captured delivery cannot be replayed later.

An event's object is a snapshot of the PaymentIntent or refund, read with the same transformers
as a lookup's answer; only events that settle something become records.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import stripe

from app.providers.base import Outcome, ProviderAnswer
from app.providers.events import ProviderEvent, Subject, WebhookRejected
from app.providers.stripe import transformers

PROVIDER = "stripe"
#: Stripe's own default: deliveries signed longer ago than this are refused.
TOLERANCE_S = 300
#: What a lookup could act on; anything else (processing, requires_confirmation) waits.
SETTLING_OUTCOMES = frozenset({Outcome.SUCCEEDED, Outcome.DECLINED, Outcome.REQUIRES_ACTION})
REFUND_SETTLING_OUTCOMES = frozenset({Outcome.SUCCEEDED, Outcome.DECLINED})


def verified_event(body: bytes, signature: str | None, secret: str) -> Mapping[str, Any]:
    """The event, once its signature is Stripe's and recent; ``WebhookRejected`` otherwise."""
    try:
        event = stripe.Webhook.construct_event(body, signature, secret, tolerance=TOLERANCE_S)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as error:
        raise WebhookRejected(str(error)) from None
    except ValueError as error:
        # Signed, so from Stripe, yet not an event: nothing to act on, and nothing to trust.
        raise WebhookRejected(f"not a Stripe event: {error}") from None
    data: dict[str, Any] = event.to_dict()
    return data


def provider_events(event: Mapping[str, Any]) -> list[ProviderEvent]:
    """The records an event settles: none for an event about nothing we drive."""
    subject = _data_object(event)
    match subject.get("object"):
        case "payment_intent":
            return list(_intent_events(event, subject))
        case "refund":
            return list(_refund_events(event, [subject]))
        case "charge":
            # charge.refunded lists the charge's refunds where the API version embeds them.
            refunds = subject.get("refunds")
            listed = refunds.get("data") if isinstance(refunds, Mapping) else None
            return list(_refund_events(event, listed if isinstance(listed, list) else []))
        case _:
            return []


def _event(
    event: Mapping[str, Any],
    event_id: str,
    stripe_object: Mapping[str, Any],
    payment_id: str,
    refund_id: str | None,
    answer: ProviderAnswer,
) -> ProviderEvent:
    """The record of what ``stripe_object`` (an intent or a refund) in ``event`` settles."""
    return ProviderEvent(
        provider=PROVIDER,
        event_id=event_id,
        type=str(event.get("type")),
        subject=Subject.PAYMENT if refund_id is None else Subject.REFUND,
        payment_id=payment_id,
        refund_id=refund_id,
        amount=_amount(stripe_object),
        currency=str(stripe_object.get("currency", "")).lower(),
        answer=answer,
    )


def _intent_events(event: Mapping[str, Any], intent: Mapping[str, Any]) -> Iterator[ProviderEvent]:
    payment_id = _metadata(intent).get("payment_id")
    answer = transformers.outcome_of_intent(intent)
    if not isinstance(payment_id, str) or answer.outcome not in SETTLING_OUTCOMES:
        return
    yield _event(event, str(event.get("id")), intent, payment_id, None, answer)


def _refund_events(event: Mapping[str, Any], refunds: list[Any]) -> Iterator[ProviderEvent]:
    for refund in refunds:
        if not isinstance(refund, Mapping):
            continue
        metadata = _metadata(refund)
        payment_id, refund_id = metadata.get("payment_id"), metadata.get("refund_id")
        answer = transformers.outcome_of_refund(refund)
        if not isinstance(payment_id, str) or not isinstance(refund_id, str):
            continue
        if answer.outcome not in REFUND_SETTLING_OUTCOMES:
            continue
        # One charge.refunded event may settle several refunds: one record each.
        event_id = f"{event.get('id')}:{refund.get('id')}"
        yield _event(event, event_id, refund, payment_id, refund_id, answer)


def _data_object(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("data")
    subject = data.get("object") if isinstance(data, Mapping) else None
    return subject if isinstance(subject, Mapping) else {}


def _metadata(stripe_object: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = stripe_object.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _amount(stripe_object: Mapping[str, Any]) -> int:
    amount = stripe_object.get("amount")
    # A non-integer amount can match no record: the worker refuses it.
    return amount if isinstance(amount, int) and not isinstance(amount, bool) else -1
