"""The PaymentIntent state machine: where Stripe-side money moves, at most once per intent.

    requires_payment_method ─┐
    requires_confirmation ───┼─ confirm ─→ succeeded (money moves; final)
    requires_action ─────────┘         ├─→ requires_payment_method (declined, or off-session
                                       │   authentication required: 402, as Stripe answers)
                                       └─→ requires_action (on-session authentication required)

Only ``succeeded`` moves money, and no transition leaves it, so one intent is charged once.
"""

import secrets
from dataclasses import replace
from typing import Any

from app.simulator.state import (
    Movement,
    PaymentIntent,
    SimState,
    StripeRefund,
    new_object_id,
    now_s,
)
from app.simulator.stripe_cards import CARDS, CardOutcome, TestCard
from app.simulator.stripe_wire import (
    ConfirmIntent,
    CreateCustomer,
    CreateIntent,
    CreateRefund,
    SearchIntents,
    charge_json,
    customer_json,
    error_body,
    intent_json,
    no_such,
    refund_json,
    search_json,
)
from app.simulator.wire import Answer

CONFIRMABLE_STATUSES = ("requires_confirmation", "requires_action", "requires_payment_method")
CANCELABLE_STATUSES = (*CONFIRMABLE_STATUSES, "requires_capture", "processing")
#: Stripe's code for a customer who failed (or abandoned) 3-D Secure.
AUTHENTICATION_FAILURE_CODE = "payment_intent_authentication_failure"
CLIENT_SECRET_RANDOM_BYTES = 12
PROVIDER = "stripe"


def create_customer(state: SimState, request: CreateCustomer) -> Answer:
    customer_id = new_object_id("cus_")
    with state.lock:
        state.customers[customer_id] = request.email
    return Answer(200, customer_json(customer_id, request.email), changed=True)


def create(state: SimState, request: CreateIntent) -> Answer:
    intent_id = new_object_id("pi_")
    intent = PaymentIntent(
        id=intent_id,
        amount=request.amount,
        currency=request.currency,
        status="requires_confirmation" if request.payment_method else "requires_payment_method",
        payment_method=request.payment_method,
        customer=request.customer,
        description=request.description,
        metadata=request.metadata,
        created_s=now_s(),
        client_secret=f"{intent_id}_secret_{secrets.token_hex(CLIENT_SECRET_RANDOM_BYTES)}",
    )
    with state.lock:
        if request.customer is not None and request.customer not in state.customers:
            raise no_such("customer", request.customer, "customer", 400)
        state.payment_intents[intent.id] = intent
        if not request.confirm:
            return Answer(200, intent_json(intent), changed=True)
        return replace(_confirm(state, intent, None, request.off_session), changed=True)


def confirm(state: SimState, intent_id: str, request: ConfirmIntent) -> Answer:
    with state.lock:
        intent = _intent(state, intent_id)
        return _confirm(state, intent, request.payment_method, request.off_session)


def cancel(state: SimState, intent_id: str, reason: str | None) -> Answer:
    """After this no confirm can move the intent's money; a succeeded intent cannot cancel."""
    with state.lock:
        intent = _intent(state, intent_id)
        if intent.status not in CANCELABLE_STATUSES:
            message = (
                f"You cannot cancel this PaymentIntent because it has a status of "
                f"{intent.status}. Only a PaymentIntent with one of the following statuses may "
                f"be canceled: {', '.join(CANCELABLE_STATUSES)}."
            )
            return _state_error(intent, message)
        intent.status = "canceled"
        intent.cancellation_reason = reason
        intent.next_action = None
        body = intent_json(intent)
    return Answer(200, body, changed=True, webhook=("payment_intent.canceled", body))


def authenticate(state: SimState, intent_id: str, succeed: bool) -> Answer | None:
    """The customer completes (or fails) 3-D Secure on an intent waiting for it, on-session
    or after an off-session refusal; None when the intent is not waiting for that."""
    with state.lock:
        intent = state.payment_intents.get(intent_id)
        if intent is None or not _awaits_authentication(intent):
            return None
        if succeed:
            return _succeed(state, intent)
        intent.status = "requires_payment_method"
        intent.next_action = None
        intent.last_payment_error = {
            "type": "invalid_request_error",
            "code": AUTHENTICATION_FAILURE_CODE,
            "message": "The provided PaymentMethod has failed authentication.",
        }
        body = intent_json(intent)
        return Answer(200, body, changed=True, webhook=("payment_intent.payment_failed", body))


def _awaits_authentication(intent: PaymentIntent) -> bool:
    error = intent.last_payment_error or {}
    refused = intent.status == "requires_payment_method" and error.get("code") == (
        "authentication_required"
    )
    return intent.status == "requires_action" or refused


def retrieve(state: SimState, intent_id: str) -> Answer:
    with state.lock:
        return Answer(200, intent_json(_intent(state, intent_id)), changed=False)


def payment_method_of(state: SimState, intent_id: str) -> str | None:
    """The method a confirm without one would use; None for an unknown intent."""
    with state.lock:
        intent = state.payment_intents.get(intent_id)
        return None if intent is None else intent.payment_method


def search(state: SimState, request: SearchIntents) -> Answer:
    with state.lock:
        found = [
            intent
            for intent in reversed(state.payment_intents.values())
            if intent.metadata.get(request.metadata_key) == request.metadata_value
        ]
        body = search_json(found[: request.limit], has_more=len(found) > request.limit)
    return Answer(200, body, changed=False)


def refund(state: SimState, request: CreateRefund) -> Answer:
    with state.lock:
        intent = state.payment_intents.get(request.payment_intent)
        if intent is None:
            raise no_such("payment_intent", request.payment_intent, "payment_intent", 400)
        refusal = _refund_refusal(intent, request.amount)
        if refusal is not None:
            return refusal
        return _refund(state, intent, request)


def retrieve_refund(state: SimState, refund_id: str) -> Answer:
    with state.lock:
        found = state.stripe_refunds.get(refund_id)
        if found is None:
            raise no_such("refund", refund_id, "id", 404)
        return Answer(200, refund_json(found), changed=False)


def _intent(state: SimState, intent_id: str) -> PaymentIntent:
    intent = state.payment_intents.get(intent_id)
    if intent is None:
        raise no_such("payment_intent", intent_id, "intent", 404)
    return intent


def _confirm(
    state: SimState, intent: PaymentIntent, payment_method: str | None, off_session: bool
) -> Answer:
    if intent.status not in CONFIRMABLE_STATUSES:
        return _unexpected_state(intent)
    if payment_method is not None:
        intent.payment_method = payment_method
    if intent.payment_method is None:
        return _missing_payment_method(intent)
    card = CARDS[intent.payment_method]
    match card.outcome:
        case CardOutcome.SUCCEED:
            return _succeed(state, intent)
        case CardOutcome.DECLINE:
            return _decline(intent, card)
        case CardOutcome.REQUIRE_ACTION if off_session:
            # The customer is not there to authenticate: Stripe refuses it as a card error.
            return _decline(intent, card)
        case CardOutcome.REQUIRE_ACTION:
            return _require_action(intent)


def _succeed(state: SimState, intent: PaymentIntent) -> Answer:
    if intent.amount_received != 0 or intent.status == "succeeded":
        raise RuntimeError(f"{intent.id} would be charged a second time")
    intent.status = "succeeded"
    intent.latest_charge = new_object_id("ch_")
    intent.amount_received = intent.amount
    intent.last_payment_error = None
    intent.next_action = None
    payment_id = intent.metadata.get("payment_id")
    state.charges.append(Movement(PROVIDER, payment_id, intent.amount, intent.currency, intent.id))
    body = intent_json(intent)
    return Answer(200, body, changed=True, webhook=("payment_intent.succeeded", body))


def _decline(intent: PaymentIntent, card: TestCard) -> Answer:
    # A declined attempt still leaves a (failed) charge behind, as on Stripe.
    charge_id = new_object_id("ch_")
    error: dict[str, Any] = {
        "type": "card_error",
        "code": card.code,
        "decline_code": card.decline_code,
        "message": card.message,
        "charge": charge_id,
        "doc_url": f"https://stripe.com/docs/error-codes/{card.code}",
        "payment_method": _payment_method_json(intent.payment_method, card),
    }
    intent.status = "requires_payment_method"
    intent.payment_method = None
    intent.latest_charge = charge_id
    intent.last_payment_error = error
    intent.next_action = None
    failed = intent_json(intent)
    body = {"error": {**error, "payment_intent": failed}}
    return Answer(402, body, changed=True, webhook=("payment_intent.payment_failed", failed))


def _require_action(intent: PaymentIntent) -> Answer:
    intent.status = "requires_action"
    intent.next_action = {
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {"type": "three_d_secure_redirect"},
    }
    body = intent_json(intent)
    return Answer(200, body, changed=True, webhook=("payment_intent.requires_action", body))


def _unexpected_state(intent: PaymentIntent) -> Answer:
    message = (
        f"You cannot confirm this PaymentIntent because it has a status of {intent.status}. "
        f"Only a PaymentIntent with one of the following statuses may be confirmed: "
        f"{', '.join(CONFIRMABLE_STATUSES)}."
    )
    return _state_error(intent, message)


def _missing_payment_method(intent: PaymentIntent) -> Answer:
    message = (
        "You cannot confirm this PaymentIntent because it's missing a payment method. "
        "Confirm it again with a payment_method."
    )
    return _state_error(intent, message)


def _state_error(intent: PaymentIntent, message: str) -> Answer:
    body = error_body("invalid_request_error", message, code="payment_intent_unexpected_state")
    body["error"]["payment_intent"] = intent_json(intent)
    return Answer(400, body, changed=False)


def _payment_method_json(payment_method: str | None, card: TestCard) -> dict[str, Any]:
    return {
        "id": payment_method,
        "object": "payment_method",
        "type": "card",
        "card": {"brand": card.brand},
    }


def _refund_refusal(intent: PaymentIntent, amount: int | None) -> Answer | None:
    remaining = intent.amount_received - intent.amount_refunded
    if intent.status != "succeeded":
        message = "This PaymentIntent does not have a successful charge to refund."
        return Answer(400, error_body("invalid_request_error", message), changed=False)
    if remaining == 0:
        message = f"Charge {intent.latest_charge} has already been refunded."
        body = error_body("invalid_request_error", message, code="charge_already_refunded")
        return Answer(400, body, changed=False)
    if amount is not None and amount > remaining:
        message = (
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})."
        )
        body = error_body("invalid_request_error", message, code="amount_too_large", param="amount")
        return Answer(400, body, changed=False)
    return None


def _refund(state: SimState, intent: PaymentIntent, request: CreateRefund) -> Answer:
    amount = request.amount or intent.amount_received - intent.amount_refunded
    refunded = StripeRefund(
        id=new_object_id("re_"),
        amount=amount,
        intent=intent,
        reason=request.reason,
        metadata=request.metadata,
        created_s=now_s(),
    )
    if intent.amount_refunded + amount > intent.amount_received:
        raise RuntimeError(f"{intent.id} would refund more than it received")
    intent.amount_refunded += amount
    state.stripe_refunds[refunded.id] = refunded
    payment_id = intent.metadata.get("payment_id")
    state.refunds.append(Movement(PROVIDER, payment_id, amount, intent.currency, intent.id))
    body = refund_json(refunded)
    return Answer(200, body, changed=True, webhook=("charge.refunded", charge_json(intent, body)))
