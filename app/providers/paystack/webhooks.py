"""Paystack's webhooks: ``x-paystack-signature`` checked, read into ``ProviderEvent`` records.

Paystack signs the raw body with HMAC-SHA512 under the account's secret API key (there is no
separate webhook secret and no timestamp) and sends the hex digest. Deliveries carry no event
id either: one is derived from the event and its object, so a repeated delivery deduplicates.

A ``charge.success`` carries the transaction, found by its reference; a refund event names the
transaction it refunds and its amount, not our refund: the worker matches it to the payment's
refund waiting for that amount.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from app.providers import outcome_rules
from app.providers.base import Outcome, ProviderAnswer
from app.providers.events import ProviderEvent, Subject, WebhookRejected
from app.providers.paystack import transformers

PROVIDER = "paystack"
SIGNATURE_HEADER = "x-paystack-signature"


def signature_of(body: bytes, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), body, hashlib.sha512).hexdigest()


def verified_payload(body: bytes, signature: str | None, secret_key: str) -> Mapping[str, Any]:
    """The payload, once its signature is Paystack's; ``WebhookRejected`` otherwise."""
    if not signature or not secret_key:
        raise WebhookRejected("no x-paystack-signature, or no secret key to check it with")
    if not hmac.compare_digest(signature_of(body, secret_key), signature.strip().lower()):
        raise WebhookRejected("x-paystack-signature does not match the body")
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise WebhookRejected(f"not a Paystack event: {error}") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("not a Paystack event: not a JSON object")
    return payload


def provider_events(payload: Mapping[str, Any], body: bytes) -> list[ProviderEvent]:
    """The records an event settles: none for an event about nothing we drive."""
    data = payload.get("data")
    if not isinstance(data, Mapping):
        return []
    match payload.get("event"):
        case "charge.success":
            reference = data.get("reference")
            answer = transformers.outcome_of_transaction(data)
            return _events(payload, body, Subject.PAYMENT, reference, data, answer)
        case "refund.processed":
            answer = ProviderAnswer(Outcome.SUCCEEDED, provider_reference=_refund_id(data))
            return _events(payload, body, Subject.REFUND, _refunded(data), data, answer)
        case "refund.failed":
            message = outcome_rules.failure_message(data.get("merchant_note"))
            answer = outcome_rules.declined("refund_failed", message, _refund_id(data))
            return _events(payload, body, Subject.REFUND, _refunded(data), data, answer)
        case _:
            return []


def _events(
    payload: Mapping[str, Any],
    body: bytes,
    subject: Subject,
    reference: object,
    data: Mapping[str, Any],
    answer: ProviderAnswer,
) -> list[ProviderEvent]:
    if not isinstance(reference, str) or not reference:
        return []
    event = ProviderEvent(
        provider=PROVIDER,
        event_id=_event_id(payload, data, body),
        type=str(payload.get("event")),
        subject=subject,
        payment_id=transformers.payment_id_of(reference),
        refund_id=None,
        amount=_amount(data.get("amount")),
        currency=str(data.get("currency", "")).lower(),
        answer=answer,
    )
    return [event]


def _event_id(payload: Mapping[str, Any], data: Mapping[str, Any], body: bytes) -> str:
    """The event and its object's id; a hash of the body when the object carries none."""
    identity = data.get("id") or data.get("refund_reference")
    if identity is None:
        identity = hashlib.sha256(body).hexdigest()
    return f"{payload.get('event')}:{identity}"


def _refunded(data: Mapping[str, Any]) -> object:
    """The reference of the refunded transaction: flat, or inside the transaction object."""
    transaction = data.get("transaction")
    if isinstance(transaction, Mapping):
        return transaction.get("reference")
    return data.get("transaction_reference")


def _refund_id(data: Mapping[str, Any]) -> str | None:
    refund_id = data.get("id")
    return None if refund_id is None else str(refund_id)


def _amount(amount: object) -> int:
    """Paystack sends amounts as numbers, and in some refund events as strings of digits; a
    non-integer amount can match no record, so the worker refuses it."""
    if isinstance(amount, str) and amount.isdigit():
        return int(amount)
    return amount if isinstance(amount, int) and not isinstance(amount, bool) else -1
