"""Paystack transactions: where Paystack-side money moves, at most once per reference.

A reference is taken by the first charge that uses it, successful or not; every later charge
with it is refused as a duplicate before anything happens. That refusal is Paystack's whole
idempotency story: there is no replay, so a client that lost an answer must verify instead.
"""

import secrets
from dataclasses import dataclass

from app.simulator.paystack_wire import (
    ChargeAuthorization,
    CreateRefund,
    PaystackError,
    refund_event_json,
    refund_json,
    success,
    transaction_json,
)
from app.simulator.state import Movement, PaystackRefund, PaystackTransaction, SimState, now_iso
from app.simulator.wire import Answer

PROVIDER = "paystack"
#: Paystack's local card pricing, in basis points and subunits: 1.5 % + 100, the flat part
#: waived under 2,500, the total capped at 2,000 (NGN major units). Applied to every currency.
FEE_BASIS_POINTS = 150
FEE_FLAT = 10_000
FEE_FLAT_WAIVED_BELOW = 250_000
FEE_CAP = 200_000
GENERATED_REFERENCE_DIGITS = 15


@dataclass(frozen=True, slots=True)
class TestAuthorization:
    status: str
    gateway_response: str
    #: The bank wants the customer to authorize the charge first (Paystack pauses it).
    paused: bool = False


AUTHORIZATIONS: dict[str, TestAuthorization] = {
    "AUTH_success": TestAuthorization("success", "Approved"),
    "AUTH_declined": TestAuthorization("failed", "Declined"),
    "AUTH_authenticationRequired": TestAuthorization(
        "pending", "Awaiting customer authorization", paused=True
    ),
}


def fee_for(amount: int) -> int:
    flat = FEE_FLAT if amount >= FEE_FLAT_WAIVED_BELOW else 0
    return min(amount * FEE_BASIS_POINTS // 10_000 + flat, FEE_CAP)


def authenticate(state: SimState, reference: str, succeed: bool) -> Answer | None:
    """The customer authorizes (or refuses) a paused charge; None when none waits."""
    with state.lock:
        transaction = state.transactions.get(reference)
        if transaction is None or not transaction.paused:
            return None
        transaction.paused = False
        if not succeed:
            transaction.status, transaction.gateway_response = "failed", "Authorization failed"
            return Answer(
                200, success("Verification successful", transaction_json(transaction)), True
            )
        transaction.status, transaction.gateway_response = "success", "Approved"
        transaction.fees = fee_for(transaction.amount)
        transaction.paid_at = now_iso()
        state.charges.append(_movement(transaction, transaction.amount))
        data = transaction_json(transaction)
    body = success("Verification successful", data)
    return Answer(200, body, changed=True, webhook=("charge.success", data))


def charge(state: SimState, request: ChargeAuthorization, secret_key: str) -> Answer:
    authorization = AUTHORIZATIONS.get(request.authorization_code)
    if authorization is None:
        raise PaystackError(400, "Invalid authorization code")
    reference = request.reference or _generated_reference()
    with state.lock:
        if reference in state.transactions:
            raise PaystackError(400, "Duplicate Transaction Reference")
        transaction = _record(state, request, reference, authorization, secret_key)
        data = transaction_json(transaction)
    event = ("charge.success", data) if transaction.status == "success" else None
    return Answer(200, success("Charge attempted", data), changed=True, webhook=event)


def verify(state: SimState, reference: str) -> Answer:
    with state.lock:
        data = transaction_json(_by_reference(state, reference))
    return Answer(200, success("Verification successful", data), changed=False)


def refund(state: SimState, request: CreateRefund) -> Answer:
    with state.lock:
        transaction = _find(state, request.transaction)
        remaining = transaction.amount - transaction.amount_refunded
        if transaction.status != "success":
            raise PaystackError(400, "Cannot refund a transaction that was not successful")
        if remaining == 0:
            raise PaystackError(400, "Transaction has been fully reversed")
        amount = remaining if request.amount is None else request.amount
        if amount > remaining:
            raise PaystackError(400, "Refund amount cannot be more than the unrefunded amount")
        refunded = _record_refund(state, transaction, amount)
        data = refund_json(refunded)
    event = ("refund.processed", refund_event_json(refunded))
    return Answer(
        200, success("Refund has been queued for processing", data), changed=True, webhook=event
    )


def fetch_refund(state: SimState, refund_id: int) -> Answer:
    with state.lock:
        data = refund_json(_refund_by_id(state, refund_id))
    return Answer(200, success("Refund retrieved", data), changed=False)


def _generated_reference() -> str:
    return "T" + "".join(secrets.choice("0123456789") for _ in range(GENERATED_REFERENCE_DIGITS))


def _record(
    state: SimState,
    request: ChargeAuthorization,
    reference: str,
    authorization: TestAuthorization,
    secret_key: str,
) -> PaystackTransaction:
    succeeded = authorization.status == "success"
    created_at = now_iso()
    transaction = PaystackTransaction(
        id=state.next_transaction_id,
        reference=reference,
        amount=request.amount,
        currency=request.currency,
        email=request.email,
        authorization_code=request.authorization_code,
        metadata=request.metadata,
        status=authorization.status,
        gateway_response=authorization.gateway_response,
        fees=fee_for(request.amount) if succeeded else 0,
        created_at=created_at,
        paid_at=created_at if succeeded else None,
        paused=authorization.paused,
        secret_key=secret_key,
    )
    state.next_transaction_id += 1
    state.transactions[reference] = transaction
    state.references_by_transaction_id[transaction.id] = reference
    if succeeded:
        state.charges.append(_movement(transaction, request.amount))
    return transaction


def _by_reference(state: SimState, reference: str) -> PaystackTransaction:
    transaction = state.transactions.get(reference)
    if transaction is None:
        # Paystack answers an unknown reference with 400, not 404; so does the simulator.
        raise PaystackError(400, "Transaction reference not found")
    return transaction


def _refund_by_id(state: SimState, refund_id: int) -> PaystackRefund:
    refund = state.paystack_refunds.get(refund_id)
    if refund is None:
        raise PaystackError(404, "Refund not found")
    return refund


def _find(state: SimState, transaction: int | str) -> PaystackTransaction:
    """By reference, else by id: Paystack's refund takes either in the same field."""
    if isinstance(transaction, str) and transaction in state.transactions:
        return state.transactions[transaction]
    if isinstance(transaction, int) or transaction.isdigit():
        reference = state.references_by_transaction_id.get(int(transaction))
        if reference is not None:
            return state.transactions[reference]
    raise PaystackError(400, "Transaction not found")


def _record_refund(
    state: SimState, transaction: PaystackTransaction, amount: int
) -> PaystackRefund:
    if transaction.amount_refunded + amount > transaction.amount:
        raise RuntimeError(f"{transaction.reference} would refund more than it received")
    refunded = PaystackRefund(
        id=state.next_paystack_refund_id,
        amount=amount,
        transaction=transaction,
        created_at=now_iso(),
    )
    state.next_paystack_refund_id += 1
    transaction.amount_refunded += amount
    state.paystack_refunds[refunded.id] = refunded
    state.refunds.append(_movement(transaction, amount))
    return refunded


def _movement(transaction: PaystackTransaction, amount: int) -> Movement:
    # Lower-case like our payments and Stripe, so one list compares across providers.
    currency = transaction.currency.lower()
    reference = transaction.reference
    return Movement(PROVIDER, _payment_id(transaction), amount, currency, reference, reference)


def _payment_id(transaction: PaystackTransaction) -> str:
    """Who the money is for: the payment id a client put in the metadata, else the reference."""
    metadata = transaction.metadata
    named = metadata.get("payment_id") if isinstance(metadata, dict) else None
    return named if isinstance(named, str) else transaction.reference
