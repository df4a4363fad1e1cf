"""Everything the simulator remembers, in memory, behind one lock."""

import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.simulator.idempotency import IdempotencyStore

#: Random part of an object id: 96 bits, as many characters as Stripe's own ids carry.
OBJECT_ID_RANDOM_BYTES = 12
PAYSTACK_TRANSACTION_ID_FIRST = 4_000_000_001
PAYSTACK_REFUND_ID_FIRST = 3_000_001


def new_object_id(prefix: str) -> str:
    return prefix + secrets.token_hex(OBJECT_ID_RANDOM_BYTES)


def now_s() -> int:
    return int(time.time())


def now_iso() -> str:
    """Paystack's timestamp format: UTC, milliseconds, trailing Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class PaymentIntent:
    id: str
    amount: int
    currency: str
    status: str
    payment_method: str | None
    customer: str | None
    description: str | None
    metadata: dict[str, str]
    created_s: int
    client_secret: str
    latest_charge: str | None = None
    last_payment_error: dict[str, Any] | None = None
    next_action: dict[str, Any] | None = None
    cancellation_reason: str | None = None
    amount_received: int = 0
    amount_refunded: int = 0


@dataclass(frozen=True, slots=True)
class StripeRefund:
    id: str
    amount: int
    #: What it refunds: its currency, id and charge are the refund's. Only a succeeded intent
    #: is refunded, and succeeded is final, so they never change after the refund.
    intent: PaymentIntent
    reason: str | None
    metadata: dict[str, str]
    created_s: int


@dataclass(slots=True)
class PaystackTransaction:
    id: int
    reference: str
    amount: int
    currency: str
    email: str
    authorization_code: str
    metadata: Any
    status: str
    gateway_response: str
    fees: int
    created_at: str
    paid_at: str | None
    amount_refunded: int = 0
    #: Waiting for the customer to authorize it at ``authorization_url`` (Paystack's 2FA).
    paused: bool = False
    #: The API key it was charged with: Paystack signs the account's webhooks with it.
    secret_key: str = ""


@dataclass(frozen=True, slots=True)
class PaystackRefund:
    id: int
    amount: int
    #: What it refunds, in the transaction's currency; Paystack's refund shows it in full.
    transaction: PaystackTransaction
    created_at: str


@dataclass(frozen=True, slots=True)
class Movement:
    """One movement of money, as `GET /_sim/charges` and `GET /_sim/refunds` list it."""

    provider: str
    #: Our payment id: the ``metadata[payment_id]`` of the PaymentIntent or the Paystack
    #: transaction (for a Paystack charge without one, its reference).
    payment_id: str | None
    amount: int
    currency: str
    provider_reference: str
    #: Paystack only: the reference exactly as the client sent it.
    reference: str | None = None

    def as_json(self) -> dict[str, object]:
        # The control endpoints list a movement field for field, under the fields' own names;
        # ``reference`` only where the provider has one.
        fields = asdict(self)
        if self.reference is None:
            del fields["reference"]
        return fields


@dataclass(slots=True)
class SimState:
    #: Handlers run on one event loop, so the lock is uncontended; it keeps every
    #: read-check-write on the books atomic should a handler ever run in a thread.
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Stripe Customers by id, with their email: a PaymentIntent may name only these.
    customers: dict[str, str | None] = field(default_factory=dict)
    payment_intents: dict[str, PaymentIntent] = field(default_factory=dict)
    stripe_refunds: dict[str, StripeRefund] = field(default_factory=dict)
    transactions: dict[str, PaystackTransaction] = field(default_factory=dict)
    references_by_transaction_id: dict[int, str] = field(default_factory=dict)
    paystack_refunds: dict[int, PaystackRefund] = field(default_factory=dict)
    charges: list[Movement] = field(default_factory=list)
    refunds: list[Movement] = field(default_factory=list)
    idempotency: IdempotencyStore = field(default_factory=IdempotencyStore)
    next_transaction_id: int = PAYSTACK_TRANSACTION_ID_FIRST
    next_paystack_refund_id: int = PAYSTACK_REFUND_ID_FIRST

    def reset(self) -> None:
        with self.lock:
            self.customers.clear()
            self.payment_intents.clear()
            self.stripe_refunds.clear()
            self.transactions.clear()
            self.references_by_transaction_id.clear()
            self.paystack_refunds.clear()
            self.charges.clear()
            self.refunds.clear()
            self.idempotency.clear()
            self.next_transaction_id = PAYSTACK_TRANSACTION_ID_FIRST
            self.next_paystack_refund_id = PAYSTACK_REFUND_ID_FIRST

    def charges_json(self) -> list[dict[str, object]]:
        with self.lock:
            return [movement.as_json() for movement in self.charges]

    def refunds_json(self) -> list[dict[str, object]]:
        with self.lock:
            return [movement.as_json() for movement in self.refunds]
