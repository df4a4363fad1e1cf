"""Paystack's wire vocabulary and how it maps to ours: the charge body, transaction statuses and
failure classification. Pure functions over wire data; nothing here talks to the network.
"""

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from app.providers import outcome_rules
from app.providers.base import (
    REDIRECT_TO_URL,
    ChargeRequest,
    NextAction,
    Outcome,
    ProviderAnswer,
    RefundRequest,
)
from app.providers.outcome_rules import failure_message, retry_after_s

CHARGE_PATH = "/transaction/charge_authorization"
VERIFY_PATH = "/transaction/verify/{reference}"
REFUND_PATH = "/refund"
REFUND_FETCH_PATH = "/refund/{refund_id}"
#: Paystack's only idempotency signal: the reference was used, so a charge was attempted.
DUPLICATE_REFERENCE_MESSAGE = "duplicate transaction reference"
#: Verify's answer (400, sometimes 404) for a reference it never saw.
REFERENCE_NOT_FOUND_MESSAGE = "transaction reference not found"
#: 401/403 mean our secret key is wrong: money never moved, and nothing succeeds until an
#: operator fixes the configuration, so the queue waits this long between attempts.
AUTH_FAILURE_RETRY_AFTER_S = 300.0
FAILURE_CODE_CHARS_MAX = 64
#: Paystack allows only letters, digits, "-", "." and "=" in a reference. Our ids hold one "_"
#: (after their prefix, ``pay_``) and never a "-", so swapping the two is a reversible mapping.
ID_SEPARATOR = "_"
REFERENCE_SEPARATOR = "-"

#: Characters a gateway message loses on its way to a failure code.
_NOT_A_CODE_CHARACTERS = re.compile(r"[^a-z0-9]+")

EMAIL_REQUIRED = ProviderAnswer(
    Outcome.DECLINED,
    failure_code="email_required",
    failure_message="Paystack charges an authorization on behalf of a customer email",
)


def reference_of(payment_id: str) -> str:
    """The Paystack reference of a payment (``pay_…`` → ``pay-…``).

    Idempotent, so a reference stored by an earlier version (the id verbatim, which Paystack
    would have refused) maps to the same valid reference as the id itself."""
    return payment_id.replace(ID_SEPARATOR, REFERENCE_SEPARATOR)


def payment_id_of(reference: str) -> str:
    """The payment id behind one of our references; for anyone else's, a string that is no id."""
    return reference.replace(REFERENCE_SEPARATOR, ID_SEPARATOR)


def charge_body(request: ChargeRequest, reference: str) -> dict[str, object]:
    return {
        "email": request.customer_email,
        "amount": request.amount,
        "authorization_code": request.payment_method,
        "reference": reference,
        "currency": request.currency.upper(),
        "metadata": {"payment_id": request.payment_id, "merchant_id": request.merchant_id},
    }


def parse_envelope(content: bytes) -> Mapping[str, Any]:
    """Paystack's ``{"status", "message", "data"}`` envelope; empty when the body is not one."""
    try:
        envelope = json.loads(content)
    except ValueError:
        return {}
    return envelope if isinstance(envelope, dict) else {}


def is_duplicate_reference(status_code: int, envelope: Mapping[str, Any]) -> bool:
    return status_code == 400 and DUPLICATE_REFERENCE_MESSAGE in _lower_message(envelope)


def is_reference_not_found(status_code: int, envelope: Mapping[str, Any]) -> bool:
    return status_code in (400, 404) and REFERENCE_NOT_FOUND_MESSAGE in _lower_message(envelope)


def transaction_answer(
    envelope: Mapping[str, Any], request: ChargeRequest, reference: str
) -> ProviderAnswer:
    """A 200 from charge or verify: the transaction is in ``data``."""
    return _answer_in_data(
        envelope,
        lambda data: outcome_of_transaction(checked_transaction(data, request, reference)),
    )


def outcome_of_transaction(data: Mapping[str, Any]) -> ProviderAnswer:
    reference = data.get("reference")
    if data.get("paused") is True:
        return ProviderAnswer(
            Outcome.REQUIRES_ACTION, provider_reference=reference, next_action=next_action_of(data)
        )
    match data.get("status"):
        case "success":
            return ProviderAnswer(Outcome.SUCCEEDED, provider_reference=reference)
        case "failed":
            code = failure_code(data.get("gateway_response"))
            return outcome_rules.declined(
                code, failure_message(data.get("gateway_response")), reference
            )
        case "reversed":
            return outcome_rules.declined(
                "reversed", failure_message(data.get("gateway_response")), reference
            )
        case "abandoned":
            # Nothing was charged, but the reference is spent: a new charge under it would only
            # answer "Duplicate Transaction Reference" and verify would say abandoned again.
            # Final, never NOT_ATTEMPTED, so the actor cannot loop.
            return outcome_rules.declined("abandoned", "the transaction was abandoned", reference)
        case (
            "send_pin"
            | "send_otp"
            | "send_phone"
            | "send_birthday"
            | "send_address"
            | "open_url"
            | "pay_offline"
            | "paused"
        ):
            return ProviderAnswer(
                Outcome.REQUIRES_ACTION,
                provider_reference=reference,
                next_action=next_action_of(data),
            )
        case "pending" | "ongoing" | "processing" | "queued":
            return ProviderAnswer(Outcome.PENDING, provider_reference=reference)
        case status:
            return outcome_rules.unrecognised_status("transaction", status, reference)


def next_action_of(data: Mapping[str, Any]) -> NextAction | None:
    """The page the customer completes the charge on: a paused charge's authorization_url, or
    an ``open_url`` charge's url. Other steps (PIN, OTP) need our own form, which we lack."""
    url = data.get("authorization_url") or data.get("url")
    return NextAction(REDIRECT_TO_URL, redirect_url=url) if isinstance(url, str) and url else None


def failure_code(gateway_response: object) -> str:
    """Paystack's free-text gateway response as a stable code: "Insufficient Funds" →
    ``insufficient_funds``; the bare "Declined" is ``card_declined``, as with Stripe."""
    words = _NOT_A_CODE_CHARACTERS.sub("_", str(gateway_response or "").lower()).strip("_")
    match words[:FAILURE_CODE_CHARS_MAX]:
        case "" | "declined":
            return "card_declined"
        case code:
            return code


def classify_failure(
    status_code: int, headers: Mapping[str, str], envelope: Mapping[str, Any]
) -> ProviderAnswer:
    message = failure_message(envelope.get("message"))
    match status_code:
        case 401 | 403:
            return outcome_rules.retryable(message, AUTH_FAILURE_RETRY_AFTER_S)
        case 429:
            return outcome_rules.rate_limited(message, retry_after_s(headers))
        case _ if 400 <= status_code <= 499:
            code = envelope.get("code")
            return outcome_rules.declined(
                code if isinstance(code, str) and code else "invalid_request", message
            )
        case _:
            # Paystack sends no "should retry" signal: a 5xx (or anything unexpected) may
            # come after the charge ran.
            return ProviderAnswer(Outcome.UNKNOWN, failure_message=message)


def classify_transport_error(error: BaseException) -> ProviderAnswer:
    return outcome_rules.transport_failure(error)


def as_charge_answer(outcome: ProviderAnswer) -> ProviderAnswer:
    return outcome_rules.as_charge_answer(outcome, "the transaction", "the charge")


def as_lookup_failure(outcome: ProviderAnswer) -> ProviderAnswer:
    return outcome_rules.as_lookup_failure(outcome, "verify")


def checked_transaction(
    data: Mapping[str, Any], request: ChargeRequest, reference: str
) -> Mapping[str, Any]:
    """The transaction itself, once its reference (the one we sent), amount and currency are
    ours."""
    if data.get("reference") != reference:
        raise RuntimeError(f"transaction {data.get('reference')!r} belongs to another payment")
    outcome_rules.require_same_money(
        f"transaction {request.payment_id}", data, request.amount, request.currency
    )
    return data


def refund_body(request: RefundRequest) -> dict[str, object]:
    return {"transaction": reference_of(request.provider_reference), "amount": request.amount}


def refund_answer(envelope: Mapping[str, Any], request: RefundRequest) -> ProviderAnswer:
    """A 200 from refund or its fetch: the refund is in ``data``."""
    return _answer_in_data(envelope, lambda data: outcome_of_refund(checked_refund(data, request)))


def outcome_of_refund(data: Mapping[str, Any]) -> ProviderAnswer:
    reference = None if data.get("id") is None else str(data["id"])
    match data.get("status"):
        case "pending" | "processing" | "processed":
            # Paystack answers every accepted refund "pending" ("queued for processing") and
            # has already deducted it from the balance; like Stripe's amount_refunded, we count
            # it as refunded. A later refund.failed webhook would need a compensating entry.
            return ProviderAnswer(Outcome.SUCCEEDED, provider_reference=reference)
        case "needs-attention":
            return ProviderAnswer(Outcome.PENDING, provider_reference=reference)
        case "failed":
            return outcome_rules.declined(
                "refund_failed", failure_message(data.get("merchant_note")), reference
            )
        case status:
            return outcome_rules.unrecognised_status("refund", status, reference)


def checked_refund(data: Mapping[str, Any], request: RefundRequest) -> Mapping[str, Any]:
    """The refund itself, once its transaction, amount and currency are ours."""
    transaction = data.get("transaction")
    reference = transaction.get("reference") if isinstance(transaction, Mapping) else None
    if reference != reference_of(request.provider_reference):
        raise RuntimeError(f"Paystack refund {data.get('id')} refunds another transaction")
    outcome_rules.require_same_money(
        f"Paystack refund {data.get('id')}", data, request.amount, request.currency
    )
    return data


def as_refund_failure(outcome: ProviderAnswer) -> ProviderAnswer:
    return outcome_rules.as_refund_failure(outcome)


def _answer_in_data(
    envelope: Mapping[str, Any], read: Callable[[Mapping[str, Any]], ProviderAnswer]
) -> ProviderAnswer:
    """Reads a 200's ``data`` object; an envelope without one says nothing certain."""
    data = envelope.get("data")
    if envelope.get("status") is not True or not isinstance(data, Mapping):
        message = failure_message(f"unreadable 200 answer: {envelope.get('message')}")
        return ProviderAnswer(Outcome.UNKNOWN, failure_message=message)
    return read(data)


def _lower_message(envelope: Mapping[str, Any]) -> str:
    return str(envelope.get("message") or "").lower()
