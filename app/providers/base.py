"""The one interface every payment provider adapter implements, and our outcome vocabulary.

Adapters turn our request into a provider call and the provider's answer into a ``ProviderAnswer``.
They know nothing of HTTP routes, actors or the ledger. Every call is safe to repeat: the
provider-side idempotency key is derived from our payment id, never from the client's key.

The charge is split so the actor can persist a recovery point between the steps:

1. ``prepare`` — create whatever provider object the money will move on (Stripe: a PaymentIntent,
   created with ``Idempotency-Key`` = payment id) and return its reference. Moves no money.
2. ``charge`` — move the money on that one reference (Stripe: confirm the stored PaymentIntent;
   Paystack: charge_authorization with ``reference`` = payment id).
3. ``lookup`` — ask the provider what happened, without moving money; used after an ambiguous
   answer and whenever a message resumes from ``charging``.

Refunds follow the same shape, answered with the same ``ProviderAnswer`` (``provider_reference``
is then the provider's refund id): ``refund`` moves money back (safe to repeat where the
provider honours our refund id as an idempotency key), ``lookup_refund`` never moves money.
"""

import enum
from dataclasses import dataclass, field
from typing import Protocol


class Outcome(enum.Enum):
    #: Money moved.
    SUCCEEDED = "succeeded"
    #: The provider refused; final, no money moved.
    DECLINED = "declined"
    #: The customer must act (3-D Secure); final for an off-session charge.
    REQUIRES_ACTION = "requires_action"
    #: Known not to have reached the charge (connect error, a 5xx before the charge): the same
    #: call may be repeated after ``retry_after_s``.
    RETRYABLE = "retryable"
    #: The provider's rate limiter refused the call (429) before anything ran: repeat it after
    #: ``retry_after_s``. Apart from RETRYABLE because waiting for capacity is no failure.
    RATE_LIMITED = "rate_limited"
    #: The charge may or may not have happened (read timeout, ambiguous 5xx): never re-charge
    #: blindly, reconcile with ``lookup``.
    UNKNOWN = "unknown"
    #: ``lookup`` only: the provider has no charge for this payment, so charging is safe.
    NOT_ATTEMPTED = "not_attempted"
    #: ``lookup`` only: the provider is still working on it; look again later.
    PENDING = "pending"


@dataclass(frozen=True)
class ChargeRequest:
    payment_id: str
    merchant_id: str
    amount: int
    currency: str
    payment_method: str
    customer_email: str | None = None
    #: The provider's own customer the payment method is saved to (Stripe: ``cus_…``).
    customer_id: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundRequest:
    refund_id: str
    payment_id: str
    #: The provider's reference of the payment's charge (PaymentIntent id, Paystack reference).
    provider_reference: str
    amount: int
    currency: str


#: NextAction types: send the customer to the provider's page, or hand the provider's client
#: secret to its own SDK in the customer's browser.
REDIRECT_TO_URL = "redirect_to_url"
USE_STRIPE_SDK = "use_stripe_sdk"


@dataclass(frozen=True)
class NextAction:
    """What the customer must do before the money can move (3-D Secure, a bank's page)."""

    type: str
    redirect_url: str | None = None
    client_secret: str | None = None


@dataclass(frozen=True)
class ProviderAnswer:
    """What one provider call came to, in our vocabulary: a charge's or a refund's."""

    outcome: Outcome
    #: The provider's id for the object the money moves on (PaymentIntent id, Paystack reference).
    provider_reference: str | None = None
    #: Our stable failure code (the provider's decline code, e.g. ``card_declined``).
    failure_code: str | None = None
    failure_message: str | None = None
    #: Seconds the provider asked us to wait (Retry-After), when it said.
    retry_after_s: float | None = None
    #: REQUIRES_ACTION only, when the provider says how the customer can act.
    next_action: NextAction | None = None


class Provider(Protocol):
    name: str
    #: Calls ``prepare`` and ``charge`` make together: what a charge asks of the rate limits.
    calls_to_charge: int

    async def prepare(self, request: ChargeRequest) -> ProviderAnswer:
        """Create the provider object, moving no money.

        NOT_ATTEMPTED with ``provider_reference`` set when ready to charge; DECLINED when the
        provider refuses the request outright; RETRYABLE or UNKNOWN as for ``charge``.
        """
        ...

    async def charge(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        """Move the money on the prepared reference; safe to repeat."""
        ...

    async def lookup(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        """What happened to this charge; never moves money."""
        ...

    async def abandon(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        """Make sure the money can no longer move (a customer who never authenticated), and
        say where the charge ended: DECLINED once it cannot move, SUCCEEDED if it already did;
        anything else when the provider cannot tell yet. Never moves money."""
        ...

    async def refund(self, request: RefundRequest) -> ProviderAnswer:
        """Move ``request.amount`` back to the customer.

        SUCCEEDED once the provider has taken the refund (``provider_reference`` = its refund
        id); DECLINED when it refuses; RETRYABLE when it cannot have acted; UNKNOWN or PENDING
        when it may have: then only ``lookup_refund`` may follow, never a blind repeat.
        """
        ...

    async def lookup_refund(
        self, request: RefundRequest, provider_refund_reference: str | None
    ) -> ProviderAnswer:
        """What happened to this refund; never moves money.

        NOT_ATTEMPTED means calling ``refund`` again is safe (it cannot refund twice); UNKNOWN
        means the provider cannot tell yet (or at all, without its refund id).
        """
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...
