"""The charge actor: drives one payment from ``accepted`` to its recorded outcome.

accepted ──prepare──▶ prepared ──charge──▶ charging ─┬─▶ charged ──ledger──▶ recorded
                                                      ├─▶ declined
                                                      ├─▶ requires_action
                                                      └─▶ unknown ──lookup──▶ (any of these)
"""

import dramatiq

from actors.middleware.retries import Defer
from actors.phases import (
    StateMachine,
    failure_fields,
    ledger_fields,
    rate_limited,
    retry_delay_ms,
    retry_options,
    try_again,
)
from actors.runtime import Runtime, runtime
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
        description=request.description,
        metadata=request.metadata,
    )


def prepared_reference(record: PaymentRecord) -> str:
    """The provider reference every step past ``accepted`` carries."""
    if record.provider_reference is None:
        raise RuntimeError(f"Bug: {record.id} is {record.step.value} with no provider reference")
    return record.provider_reference


class Charge(StateMachine[PaymentRecord]):
    def __init__(self, context: Runtime, payment_id: str) -> None:
        super().__init__(context, payment_id, context.payments)

    def phase(self, record: PaymentRecord) -> None:
        match record.step:
            case Step.ACCEPTED:
                self.prepare(record)
            case Step.PREPARED:
                self.charge(record)
            case Step.CHARGING | Step.UNKNOWN:
                # A message that finds ``charging`` was cut off mid-call: the provider may have
                # moved the money, so ask before anything else.
                self.reconcile(record)
            case Step.CHARGED:
                self.record_capture(record)
            case step:
                raise RuntimeError(f"Bug: unhandled recovery point {step}")

    def prepare(self, record: PaymentRecord) -> None:
        answer = self.provider(record.request.provider).prepare(charge_request(record))
        match answer.outcome:
            case Outcome.NOT_ATTEMPTED if answer.provider_reference:
                self.advance(
                    Step.ACCEPTED, Step.PREPARED, {"provider_reference": answer.provider_reference}
                )
            case Outcome.DECLINED:
                self.advance(
                    Step.ACCEPTED, Step.DECLINED, failure_fields(answer, DECLINE_CODE_DEFAULT)
                )
            case Outcome.RATE_LIMITED:
                raise rate_limited(answer)
            case _:
                # Preparing moves no money, so any other answer is simply tried again.
                raise dramatiq.Retry("prepare did not complete", delay=retry_delay_ms(answer))

    def charge(self, record: PaymentRecord) -> None:
        reference = prepared_reference(record)
        provider = self.provider(record.request.provider)
        # The point is persisted before the call: whoever finds ``charging`` later must ask the
        # provider rather than charge.
        if not self.advance(Step.PREPARED, Step.CHARGING):
            return
        answer = provider.charge(charge_request(record), reference)
        if answer.outcome in (Outcome.RETRYABLE, Outcome.RATE_LIMITED):
            # Known not to have reached the charge: back to prepared, same provider key next time.
            self.advance(Step.CHARGING, Step.PREPARED)
            raise try_again(answer)
        self.settle(Step.CHARGING, answer)

    def reconcile(self, record: PaymentRecord) -> None:
        reference = prepared_reference(record)
        answer = self.provider(record.request.provider).lookup(charge_request(record), reference)
        match answer.outcome:
            case Outcome.NOT_ATTEMPTED:
                # The provider never saw the charge: charging again, under the same provider
                # idempotency key, is safe.
                self.advance(record.step, Step.PREPARED)
                return
            case Outcome.RATE_LIMITED:
                raise rate_limited(answer)
        self.settle(record.step, answer)

    def settle(self, step: Step, answer: ProviderAnswer) -> None:
        target = SETTLED_STEP.get(answer.outcome)
        if target is None:
            self.advance(step, Step.UNKNOWN)
            # A scheduled lookup, not a failure: it repeats, ever less often, until the
            # provider can tell, and never re-charges blindly.
            raise Defer(
                "outcome unknown; reconciling",
                delay=RECONCILE_DELAY_MS,
                delay_max=RECONCILE_DELAY_MS_MAX,
            )
        fields = {} if target is Step.CHARGED else failure_fields(answer, DECLINE_CODE_DEFAULT)
        if answer.provider_reference:
            fields["provider_reference"] = answer.provider_reference
        self.advance(step, target, fields)

    def record_capture(self, record: PaymentRecord) -> None:
        request = record.request
        entry = capture_entry(
            payment_id=record.id,
            merchant_id=record.merchant_id,
            clearing_account=clearing_account(request.provider, request.currency),
            amount=request.amount,
            currency=request.currency,
        )
        recorded = self.record_in_ledger(entry)
        self.advance(Step.CHARGED, Step.RECORDED, ledger_fields(recorded))


@dramatiq.actor(actor_name=CHARGE_ACTOR, queue_name=PAYMENTS_QUEUE, **retry_options(settings()))
def charge_payment(payment_id: str) -> None:
    Charge(runtime(), payment_id).run()
