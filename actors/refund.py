"""The refund actor: drives one refund from ``requested`` to its recorded outcome.

Like the charge, a state machine over the refund record's persisted recovery point (see
``actors.phases``). The amount was reserved on the payment when the refund was accepted; it
becomes ``amount_refunded`` when the refund is recorded, or is released when the refund fails.

    requested ──refund──▶ refunding ─┬─▶ refunded ──ledger──▶ recorded
        ▲                            ├─▶ failed (reservation released)
        └────── not attempted ───────┴─▶ unknown ──lookup──▶ (any of these)

A refund waits in ``requested`` until its payment's capture is in the ledger, so the ledger
always holds a capture before its refunds. A message that finds ``refunding`` was cut off
mid-call and looks the refund up before anything else. A Paystack refund whose answer was lost
cannot be looked up (Paystack finds refunds only by the id that answer carried): it stays
``unknown``, its amount reserved, and is never sent again; an operator reconciles it.
"""

import dramatiq

from actors.middleware.retries import Defer
from actors.phases import (
    LEDGER_RETRY_DELAY_MS,
    LEDGER_RETRY_DELAY_MS_MAX,
    StateMachine,
    failure_fields,
    ledger_fields,
    rate_limited,
    retry_options,
    try_again,
)
from actors.runtime import Runtime, runtime
from actors.state import Settlement
from app.ledger import clearing_account, refund_entry
from app.payments.record import Step
from app.providers.base import Outcome, ProviderAnswer, RefundRequest
from app.queue.dispatch import PAYMENTS_QUEUE, REFUND_ACTOR
from app.refunds.record import RefundRecord, RefundStep
from app.settings import settings

#: How long an ambiguous refund waits before we ask the provider what happened. Unlike a
#: charge's, these lookups use the retry budget: a Paystack refund whose answer was lost can
#: never be found, and belongs with an operator (the dead-letter stream) once the budget is spent.
RECONCILE_DELAY_MS = 2_000
FAILURE_CODE_DEFAULT = "refund_failed"


def refund_request(record: RefundRecord) -> RefundRequest:
    return RefundRequest(
        refund_id=record.id,
        payment_id=record.payment_id,
        provider_reference=record.payment_reference,
        amount=record.amount,
        currency=record.currency,
    )


def reference_fields(answer: ProviderAnswer) -> dict[str, str]:
    if answer.provider_reference is None:
        return {}
    return {"provider_refund_reference": answer.provider_reference}


class Refund(StateMachine[RefundRecord]):
    def __init__(self, context: Runtime, refund_id: str) -> None:
        super().__init__(context, refund_id, context.refunds)

    def phase(self, record: RefundRecord) -> None:
        match record.step:
            case RefundStep.REQUESTED:
                self.refund(record)
            case RefundStep.REFUNDING | RefundStep.UNKNOWN:
                # The provider may have sent the money back: ask before anything else.
                self.reconcile(record)
            case RefundStep.REFUNDED:
                self.record_refund(record)
            case step:
                raise RuntimeError(f"Bug: unhandled refund recovery point {step}")

    def wait_for_capture(self, record: RefundRecord) -> None:
        payment = self.context.payments.load(record.payment_id)
        if payment is None:
            raise RuntimeError(f"refund {record.id}: payment {record.payment_id} is gone")
        match payment.step:
            case Step.RECORDED:
                return
            case Step.CHARGED:
                raise Defer(
                    "payment not recorded yet",
                    delay=LEDGER_RETRY_DELAY_MS,
                    delay_max=LEDGER_RETRY_DELAY_MS_MAX,
                )
            case step:
                raise RuntimeError(f"Bug: refund {record.id} of a payment at {step}")

    def refund(self, record: RefundRecord) -> None:
        self.wait_for_capture(record)
        provider = self.provider(record.provider)
        # Persisted before the call: whoever finds ``refunding`` later must look the refund up.
        if not self.advance(RefundStep.REQUESTED, RefundStep.REFUNDING):
            return
        answer = provider.refund(refund_request(record))
        if answer.outcome in (Outcome.RETRYABLE, Outcome.RATE_LIMITED):
            # Known not to have reached the provider's books: back to requested.
            self.advance(RefundStep.REFUNDING, RefundStep.REQUESTED)
            raise try_again(answer)
        self.settle(record, RefundStep.REFUNDING, answer)

    def reconcile(self, record: RefundRecord) -> None:
        provider = self.provider(record.provider)
        answer = provider.lookup_refund(refund_request(record), record.provider_refund_reference)
        match answer.outcome:
            case Outcome.NOT_ATTEMPTED:
                # Refunding again cannot refund twice (the provider says so): back to requested.
                self.advance(record.step, RefundStep.REQUESTED)
                return
            case Outcome.RATE_LIMITED:
                raise rate_limited(answer)
        self.settle(record, record.step, answer)

    def settle(self, record: RefundRecord, step: RefundStep, answer: ProviderAnswer) -> None:
        fields = reference_fields(answer)
        if answer.outcome is Outcome.SUCCEEDED:
            self.advance(step, RefundStep.REFUNDED, fields)
        elif answer.outcome is Outcome.DECLINED:
            fields |= failure_fields(answer, FAILURE_CODE_DEFAULT)
            self.context.refunds.settle(
                record, step, RefundStep.FAILED, Settlement.RELEASED, fields
            )
        else:
            self.advance(step, RefundStep.UNKNOWN, fields)
            raise dramatiq.Retry("refund outcome unknown", delay=RECONCILE_DELAY_MS)

    def record_refund(self, record: RefundRecord) -> None:
        entry = refund_entry(
            refund_id=record.id,
            payment_id=record.payment_id,
            merchant_id=record.merchant_id,
            clearing_account=clearing_account(record.provider, record.currency),
            amount=record.amount,
            currency=record.currency,
        )
        recorded = self.record_in_ledger(entry)
        self.context.refunds.settle(
            record,
            RefundStep.REFUNDED,
            RefundStep.RECORDED,
            Settlement.REFUNDED,
            ledger_fields(recorded),
        )


@dramatiq.actor(actor_name=REFUND_ACTOR, queue_name=PAYMENTS_QUEUE, **retry_options(settings()))
def refund_payment(refund_id: str) -> None:
    Refund(runtime(), refund_id).run()
