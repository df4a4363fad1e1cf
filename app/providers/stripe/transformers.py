"""Stripe's wire vocabulary and how it maps to ours: request parameters, PaymentIntent statuses and
error classification. Pure functions over wire data; nothing here talks to the network.
"""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import stripe
from stripe.params import (
    PaymentIntentCancelParams,
    PaymentIntentConfirmParams,
    PaymentIntentCreateParams,
    RefundCreateParams,
)

from app.providers import outcome_rules
from app.providers.base import (
    REDIRECT_TO_URL,
    USE_STRIPE_SDK,
    ChargeRequest,
    NextAction,
    Outcome,
    ProviderAnswer,
    RefundRequest,
)
from app.providers.outcome_rules import failure_message, retry_after_s

#: Stripe's metadata limits: at most 50 keys, each at most 40 characters, no square brackets.
METADATA_KEYS_MAX = 50
METADATA_KEY_CHARS_MAX = 40
#: The merchant's metadata travels under this prefix so it can never overwrite our own keys.
MERCHANT_METADATA_PREFIX = "m_"
#: 401/403 mean our secret key is wrong or lacks a permission: money never moved, and nothing
#: succeeds until an operator fixes the configuration, so the queue waits this long between
#: attempts instead of hammering Stripe or failing payments that are fine.
AUTH_FAILURE_RETRY_AFTER_S = 300.0
#: Stripe's catch-all issuer reason; our code for it is the plainer ``card_declined``.
GENERIC_DECLINE_CODE = "generic_decline"
REDACTED_PAYMENT_METHOD = "[payment method]"


def create_idempotency_key(request: ChargeRequest) -> str:
    return request.payment_id


def confirm_idempotency_key(request: ChargeRequest) -> str:
    return f"{request.payment_id}:confirm"


def cancel_idempotency_key(request: ChargeRequest) -> str:
    return f"{request.payment_id}:cancel"


def cancel_params() -> PaymentIntentCancelParams:
    return {"cancellation_reason": "abandoned"}


def payment_intent_metadata(request: ChargeRequest) -> dict[str, str]:
    """Our keys plus as much of the merchant's metadata as Stripe accepts.

    Sorted, so a retried create sends identical parameters (Stripe refuses a reused idempotency key
    with different ones). Our own record keeps all of the merchant's metadata.
    """
    own = {"payment_id": request.payment_id, "merchant_id": request.merchant_id}
    merchant = [
        (MERCHANT_METADATA_PREFIX + key, value)
        for key, value in sorted(request.metadata.items())
        if _stripe_accepts_key(MERCHANT_METADATA_PREFIX + key)
    ]
    return {**dict(merchant[: METADATA_KEYS_MAX - len(own)]), **own}


def _stripe_accepts_key(key: str) -> bool:
    return len(key) <= METADATA_KEY_CHARS_MAX and "[" not in key and "]" not in key


def create_params(request: ChargeRequest) -> PaymentIntentCreateParams:
    params: PaymentIntentCreateParams = {
        "amount": request.amount,
        "currency": request.currency.lower(),
        "payment_method": request.payment_method,
        # Money moves only when the one stored PaymentIntent id is confirmed, in a later step.
        "confirm": False,
        "metadata": payment_intent_metadata(request),
    }
    if request.customer_id is not None:
        # A saved card is charged on behalf of the Customer it is attached to; whether the two
        # belong together is Stripe's to check, and its refusal becomes the payment's failure.
        params["customer"] = request.customer_id
    if request.description is not None:
        params["description"] = request.description
    return params


def confirm_params() -> PaymentIntentConfirmParams:
    # A merchant-initiated charge on a saved method: the customer is not in the flow, so a
    # card that needs authentication must fail fast rather than wait for them.
    return {"off_session": True}


def outcome_of_intent(intent: Mapping[str, Any]) -> ProviderAnswer:
    reference = intent.get("id")
    match intent.get("status"):
        case "succeeded":
            return ProviderAnswer(Outcome.SUCCEEDED, provider_reference=reference)
        case "requires_confirmation":
            return ProviderAnswer(Outcome.NOT_ATTEMPTED, provider_reference=reference)
        case "requires_payment_method":
            return _outcome_of_attempt(intent, reference)
        case "requires_action":
            return ProviderAnswer(
                Outcome.REQUIRES_ACTION,
                provider_reference=reference,
                next_action=next_action_of(intent),
            )
        case "processing":
            return ProviderAnswer(Outcome.PENDING, provider_reference=reference)
        case "requires_capture":
            # Only manual capture stops here and we never ask for it (Stripe's default capture
            # is automatic); should one ever arrive, the funds are only held, so keep looking.
            return ProviderAnswer(Outcome.PENDING, provider_reference=reference)
        case "canceled":
            reason = intent.get("cancellation_reason") or "the PaymentIntent was canceled"
            return outcome_rules.declined("canceled", str(reason), reference)
        case status:
            return outcome_rules.unrecognised_status("PaymentIntent", status, reference)


def _outcome_of_attempt(intent: Mapping[str, Any], reference: str | None) -> ProviderAnswer:
    """``requires_payment_method`` is both "never tried" and "tried and refused"."""
    last_payment_error = intent.get("last_payment_error")
    if not isinstance(last_payment_error, Mapping):
        return ProviderAnswer(Outcome.NOT_ATTEMPTED, provider_reference=reference)
    return outcome_of_card_error(last_payment_error, reference, intent)


def outcome_of_card_error(
    error: Mapping[str, Any], reference: str | None, intent: object = None
) -> ProviderAnswer:
    """A refused attempt. Off-session, a card that wants 3-D Secure is refused too: the
    customer can still authenticate on-session with the intent's client secret."""
    message = failure_message(error.get("message"))
    if error.get("code") == "authentication_required":
        next_action = next_action_of(intent) if isinstance(intent, Mapping) else None
        return ProviderAnswer(
            Outcome.REQUIRES_ACTION,
            provider_reference=reference,
            failure_message=message,
            next_action=next_action,
        )
    return outcome_rules.declined(decline_code(error), message, reference)


def next_action_of(intent: Mapping[str, Any]) -> NextAction | None:
    """How the customer completes the intent: Stripe's redirect when it gave one, else the
    client secret its SDK confirms the intent with in the customer's browser."""
    next_action = intent.get("next_action")
    redirect = next_action.get("redirect_to_url") if isinstance(next_action, Mapping) else None
    url = redirect.get("url") if isinstance(redirect, Mapping) else None
    if isinstance(url, str) and url:
        return NextAction(REDIRECT_TO_URL, redirect_url=url)
    client_secret = intent.get("client_secret")
    if isinstance(client_secret, str) and client_secret:
        return NextAction(USE_STRIPE_SDK, client_secret=client_secret)
    return None


def decline_code(error: Mapping[str, Any]) -> str:
    """The issuer's reason when it says something specific, else Stripe's error code."""
    issuer_reason = error.get("decline_code")
    if isinstance(issuer_reason, str) and issuer_reason and issuer_reason != GENERIC_DECLINE_CODE:
        return issuer_reason
    code = error.get("code")
    return code if isinstance(code, str) and code else "card_declined"


def classify_error(error: stripe.StripeError) -> ProviderAnswer:
    """What a failed Stripe call means for the money; the table lives in ``_classify_status``."""
    if isinstance(error, stripe.APIConnectionError):
        return outcome_rules.transport_failure(error.__cause__)
    headers = {key.lower(): value for key, value in (error.headers or {}).items()}
    # Stripe's explicit "a retry may succeed": with our deterministic idempotency key a retry can
    # only replay or finish the one request, so it is safe whatever the status.
    if headers.get("stripe-should-retry") == "true":
        return outcome_rules.retryable(error.user_message, retry_after_s(headers))
    body = _error_body(error)
    return _classify_status(error.http_status or 0, body, headers, error.user_message)


def _classify_status(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str], message: str | None
) -> ProviderAnswer:
    code, intent = body.get("code"), body.get("payment_intent")
    match status:
        case 402:
            return outcome_of_card_error(body, None, intent)
        case 401 | 403:
            return outcome_rules.retryable(message, AUTH_FAILURE_RETRY_AFTER_S)
        case 409:
            # Another request with this key is still in flight (or the object is locked). Stripe
            # stored nothing for ours; the retry replays whatever the first one stored.
            return outcome_rules.retryable(message, retry_after_s(headers))
        case 429:
            return outcome_rules.rate_limited(message, retry_after_s(headers))
        case 400 if code == "rate_limit":
            return outcome_rules.rate_limited(message, retry_after_s(headers))
        case 400 if body.get("type") == "idempotency_error":
            # This key already carried different parameters: something ran under it.
            return ProviderAnswer(Outcome.UNKNOWN, failure_message=failure_message(message))
        case 400 if code == "payment_intent_unexpected_state" and isinstance(intent, Mapping):
            return outcome_of_intent(intent)
        case _ if 400 <= status <= 499:
            return outcome_rules.declined(
                code if isinstance(code, str) else "invalid_request", failure_message(message)
            )
        case _:
            # A 5xx without "Should-Retry: true", or anything unexpected: it may have executed.
            return ProviderAnswer(Outcome.UNKNOWN, failure_message=failure_message(message))


def as_charge_answer(outcome: ProviderAnswer) -> ProviderAnswer:
    return outcome_rules.as_charge_answer(outcome, "the PaymentIntent", "confirmation")


def as_lookup_failure(outcome: ProviderAnswer) -> ProviderAnswer:
    """A 404 included: we only look up ids Stripe gave us."""
    return outcome_rules.as_lookup_failure(outcome, "lookup")


def checked_intent(intent: Mapping[str, Any], request: ChargeRequest) -> Mapping[str, Any]:
    """The PaymentIntent itself, once the payment id in its metadata, its amount and its
    currency are ours."""
    metadata = intent.get("metadata") or {}
    if metadata.get("payment_id") != request.payment_id:
        raise RuntimeError(f"PaymentIntent {intent.get('id')} belongs to another payment")
    outcome_rules.require_same_money(
        f"PaymentIntent {intent.get('id')}", intent, request.amount, request.currency
    )
    return intent


def without_payment_method(outcome: ProviderAnswer, payment_method: str) -> ProviderAnswer:
    """Stripe quotes the payment method in some messages ("No such PaymentMethod: 'pm_…'");
    outcomes get logged, payment methods never."""
    message = outcome.failure_message
    if not payment_method or message is None or payment_method not in message:
        return outcome
    return replace(
        outcome, failure_message=message.replace(payment_method, REDACTED_PAYMENT_METHOD)
    )


def refund_idempotency_key(request: RefundRequest) -> str:
    return request.refund_id


def refund_params(request: RefundRequest) -> RefundCreateParams:
    return {
        "payment_intent": request.provider_reference,
        "amount": request.amount,
        "metadata": {"refund_id": request.refund_id, "payment_id": request.payment_id},
    }


def outcome_of_refund(refund: Mapping[str, Any]) -> ProviderAnswer:
    reference = refund.get("id")
    match refund.get("status"):
        case "succeeded":
            return ProviderAnswer(Outcome.SUCCEEDED, provider_reference=reference)
        case "pending" | "requires_action":
            return ProviderAnswer(Outcome.PENDING, provider_reference=reference)
        case "failed" | "canceled":
            reason = refund.get("failure_reason") or f"the refund {refund.get('status')}"
            return outcome_rules.declined(
                f"refund_{refund.get('status')}", failure_message(reason), reference
            )
        case status:
            return outcome_rules.unrecognised_status("refund", status, reference)


def checked_refund(refund: Mapping[str, Any], request: RefundRequest) -> Mapping[str, Any]:
    """The refund itself, once the refund id in its metadata, its PaymentIntent, amount and
    currency are ours."""
    metadata = refund.get("metadata") or {}
    if metadata.get("refund_id") != request.refund_id:
        raise RuntimeError(f"Stripe refund {refund.get('id')} belongs to another refund")
    if refund.get("payment_intent") != request.provider_reference:
        raise RuntimeError(f"Stripe refund {refund.get('id')} refunds another PaymentIntent")
    outcome_rules.require_same_money(
        f"Stripe refund {refund.get('id')}", refund, request.amount, request.currency
    )
    return refund


def as_refund_failure(outcome: ProviderAnswer) -> ProviderAnswer:
    """The shared rule, without a reference: on a failed refund call it would be the
    PaymentIntent's, never a refund's."""
    return replace(outcome_rules.as_refund_failure(outcome), provider_reference=None)


def _error_body(error: stripe.StripeError) -> Mapping[str, Any]:
    json_body = error.json_body
    body = json_body.get("error") if isinstance(json_body, dict) else None
    return body if isinstance(body, Mapping) else {}
