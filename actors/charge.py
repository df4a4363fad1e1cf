"""The charge actor: drives one payment from ``accepted`` to its recorded outcome.

    accepted ──prepare──▶ charging ──charge──┬─▶ charged ──ledger──▶ recorded
        prepared ──ready──▶ ▲   (found later: │─▶ declined
            ▲               │    lookup)      ├─▶ requires_action
            └─ not attempted ┴───────────────└─▶ unknown ──lookup──▶ (any of these)

Preparing creates the provider's object (Stripe: a PaymentIntent, which moves no money) and
stores ``charging`` with its reference before the call that moves money: whoever finds a payment
``charging`` later asks the provider what happened before anything else. ``prepared`` is where
a payment waits when that call is known not to have happened (and where payments prepared by
earlier versions wait).

``requires_action`` waits for the customer (3-D Secure; see ``actors.customer_action``): the
outcome comes by webhook (``actors.provider_events``) or by lookup, ``charged`` or
``declined``; past the deadline the charge is abandoned and the payment declined with
``authentication_timeout``.
"""

import dramatiq

from actors import customer_action
from actors.middleware.retries import Defer, actor_options
from actors.phases import (
    StateMachine,
    failure_fields,
    ledger_fields,
    rate_limited,
    retry_delay_ms,
    try_again,
)
from actors.runtime import Runtime, runtime
from actors.state import Transition
from app.ledger import capture_entry, clearing_account
from app.payments.record import PaymentRecord, Step
from app.providers.base import ChargeRequest, Outcome, ProviderAnswer
from app.queue.dispatch import CHARGE_ACTOR, PAYMENTS_QUEUE
from app.settings import settings

#: How long an ambiguous charge waits before we ask the provider what happened; the wait
#: doubles with each lookup that still cannot tell, up to the maximum.
RECONCILE_DELAY_MS = 2_000
RECONCILE_DELAY_MS_MAX = 300_000
DECLINE_CODE_DEFAULT = "declined"

#: Where a settled provider answer moves the payment, from ``charging`` or ``unknown``; any
#: other answer leaves the outcome unknown.
SETTLED_STEP = {
    Outcome.SUCCEEDED: Step.CHARGED,
    Outcome.DECLINED: Step.DECLINED,
    Outcome.REQUIRES_ACTION: Step.REQUIRES_ACTION,
}


def charge_request(record: PaymentRecord) -> ChargeRequest:
    request = record.request
    return ChargeRequest(
        payment_id=record.id,
        merchant_id=record.merchant_id,
        amount=request.amount,
        currency=request.currency,
        payment_method=request.payment_method,
        customer_email=request.customer.get("email"),
        customer_id=request.customer.get("id"),
        description=request.description,
        metadata=request.metadata,
    )


def prepared_reference(record: PaymentRecord) -> str:
    """The provider reference every step past ``accepted`` carries."""
    if record.provider_reference is None:
        raise RuntimeError(f"Bug: {record.id} is {record.step.value} with no provider reference")
    return record.provider_reference


def settled(answer: ProviderAnswer, action_timeout_s: int) -> Transition:
    """Where a charge or lookup answer leaves the payment; a customer who must act has
    ``action_timeout_s`` to do so."""
    target = SETTLED_STEP.get(answer.outcome)
    if target is Step.REQUIRES_ACTION:
        return customer_action.awaiting_customer(answer, action_timeout_s)
    if target is None:
        # A scheduled lookup, not a failure: it repeats, ever less often, until the provider
        # can tell, and never re-charges blindly.
        wait = Defer(
            "outcome unknown; reconciling",
            delay=RECONCILE_DELAY_MS,
            delay_max=RECONCILE_DELAY_MS_MAX,
        )
        return Transition(Step.UNKNOWN, then=wait)
    fields = {} if target is Step.CHARGED else failure_fields(answer, DECLINE_CODE_DEFAULT)
    if answer.provider_reference:
        fields["provider_reference"] = answer.provider_reference
    return Transition(target, fields)


class Charge(StateMachine[PaymentRecord]):
    def __init__(self, context: Runtime, payment_id: str) -> None:
        super().__init__(context, payment_id, context.payments)

    async def phase(self, record: PaymentRecord, fresh: bool) -> Transition:
        match record.step:
            case Step.ACCEPTED:
                return await self.prepare(record)
            case Step.PREPARED:
                return await self.ready(record)
            case Step.CHARGING if fresh:
                return await self.charge(record)
            case Step.CHARGING | Step.UNKNOWN:
                # Found ``charging`` by a later run: the call may have gone out, and the provider
                # may have moved the money, so ask before anything else.
                return await self.reconcile(record)
            case Step.REQUIRES_ACTION:
                return await self.await_customer(record)
            case Step.CHARGED:
                return await self.record_capture(record)
            case step:
                raise RuntimeError(f"Bug: unhandled recovery point {step}")

    @property
    def action_timeout_s(self) -> int:
        return self.context.settings.requires_action_timeout_s

    async def prepare(self, record: PaymentRecord) -> Transition:
        name = record.request.provider
        # Every call up to the charge is admitted at once, so a charge is never stored as
        # ``charging`` and then held back by the limits.
        provider = await self.provider(name, self.context.providers[name].calls_to_charge)
        answer = await provider.prepare(charge_request(record))
        match answer.outcome:
            case Outcome.NOT_ATTEMPTED if answer.provider_reference:
                return Transition(Step.CHARGING, {"provider_reference": answer.provider_reference})
            case Outcome.DECLINED:
                return Transition(Step.DECLINED, failure_fields(answer, DECLINE_CODE_DEFAULT))
            case Outcome.RATE_LIMITED:
                raise rate_limited(answer)
            case _:
                # Preparing moves no money, so any other answer is simply tried again.
                raise dramatiq.Retry("prepare did not complete", delay=retry_delay_ms(answer))

    async def ready(self, record: PaymentRecord) -> Transition:
        await self.provider(record.request.provider)
        return Transition(Step.CHARGING)

    async def charge(self, record: PaymentRecord) -> Transition:
        provider = self.context.providers[record.request.provider]
        answer = await provider.charge(charge_request(record), prepared_reference(record))
        if answer.outcome in (Outcome.RETRYABLE, Outcome.RATE_LIMITED):
            # Known not to have reached the charge: back to prepared, same provider key next time.
            return Transition(Step.PREPARED, then=try_again(answer))
        return settled(answer, self.action_timeout_s)

    async def reconcile(self, record: PaymentRecord) -> Transition:
        provider = await self.provider(record.request.provider)
        answer = await provider.lookup(charge_request(record), prepared_reference(record))
        match answer.outcome:
            case Outcome.NOT_ATTEMPTED:
                # The provider never saw the charge: charging again, under the same provider
                # idempotency key, is safe.
                return Transition(Step.PREPARED)
            case Outcome.RATE_LIMITED:
                raise rate_limited(answer)
        return settled(answer, self.action_timeout_s)

    async def await_customer(self, record: PaymentRecord) -> Transition:
        """Look the charge up while the customer may still act (a webhook usually comes
        first); at the deadline, abandon it."""
        remaining_ms = customer_action.remaining_ms(record.action_deadline)
        if remaining_ms <= 0:
            return await self.abandon(record)
        provider = await self.provider(record.request.provider)
        answer = await provider.lookup(charge_request(record), prepared_reference(record))
        match answer.outcome:
            case Outcome.SUCCEEDED | Outcome.DECLINED:
                return settled(answer, self.action_timeout_s)
            case Outcome.RATE_LIMITED:
                raise rate_limited(answer)
        raise customer_action.wait_for_customer(remaining_ms)

    async def abandon(self, record: PaymentRecord) -> Transition:
        """Have the provider abandon the charge, so a late authentication can no longer move
        money, and fail the payment, unless the money moved after all."""
        provider = await self.provider(record.request.provider)
        answer = await provider.abandon(charge_request(record), prepared_reference(record))
        match answer.outcome:
            case Outcome.SUCCEEDED:
                return settled(answer, self.action_timeout_s)
            case Outcome.DECLINED | Outcome.REQUIRES_ACTION | Outcome.NOT_ATTEMPTED:
                return customer_action.timed_out(self.action_timeout_s)
            case Outcome.RATE_LIMITED:
                raise rate_limited(answer)
        # The provider cannot tell yet whether the money moved: ask again soon.
        raise Defer(
            "abandoning the charge", delay=RECONCILE_DELAY_MS, delay_max=RECONCILE_DELAY_MS_MAX
        )

    async def record_capture(self, record: PaymentRecord) -> Transition:
        request = record.request
        entry = capture_entry(
            payment_id=record.id,
            merchant_id=record.merchant_id,
            clearing_account=clearing_account(request.provider, request.currency),
            amount=request.amount,
            currency=request.currency,
        )
        return Transition(Step.RECORDED, ledger_fields(await self.record_in_ledger(entry)))


@dramatiq.actor(
    actor_name=CHARGE_ACTOR,
    queue_name=PAYMENTS_QUEUE,
    **actor_options(settings().charge_policy),
)
async def charge_payment(payment_id: str) -> None:
    await Charge(runtime(), payment_id).run()
