"""The refund actor: drives one refund from ``requested`` to its recorded outcome.

Like the charge, a state machine over the refund record's persisted recovery point, on the
engine of ``actors.phases``. The amount was reserved on the payment when the refund was
accepted; it becomes ``amount_refunded`` when the refund is recorded, or is released when the
refund fails.

    requested ──ready──▶ refunding ──refund──┬─▶ refunded ──ledger──▶ recorded
        ▲                  (found later:     ├─▶ failed (reservation released)
        └── not attempted ── lookup) ────────┴─▶ unknown ──lookup──▶ (any of these)

A refund waits in ``requested`` until its payment's capture is in the ledger, so the ledger
always holds a capture before its refunds. A refund found ``refunding`` by a later run was cut
off mid-call and is looked up before anything else. A Paystack refund whose answer was lost
cannot be looked up (Paystack finds refunds only by the id that answer carried): it stays
``unknown``, its amount reserved, and is never sent again; an operator reconciles it.
"""

import dramatiq

from actors.group_commit import RETRY_DELAY_MS, RETRY_DELAY_MS_MAX
from actors.middleware.retries import Defer, actor_options
from actors.phases import (
    StateMachine,
    failure_fields,
    ledger_fields,
    rate_limited,
    try_again,
)
from actors.runtime import Runtime, runtime
from actors.state import Moved, Settlement, Transition
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


def settled(answer: ProviderAnswer) -> Transition:
    """Where a refund or lookup answer leaves the refund."""
    fields = reference_fields(answer)
    match answer.outcome:
        case Outcome.SUCCEEDED:
            return Transition(RefundStep.REFUNDED, fields)
        case Outcome.DECLINED:
            fields |= failure_fields(answer, FAILURE_CODE_DEFAULT)
            return Transition(RefundStep.FAILED, fields, settlement=Settlement.RELEASED)
        case _:
            wait = dramatiq.Retry("refund outcome unknown", delay=RECONCILE_DELAY_MS)
            return Transition(RefundStep.UNKNOWN, fields, then=wait)


class Refund(StateMachine[RefundRecord]):
    def __init__(self, context: Runtime, refund_id: str) -> None:
        super().__init__(context, refund_id, context.refunds)

    async def phase(self, record: RefundRecord, fresh: bool) -> Transition:
        match record.step:
            case RefundStep.REQUESTED:
                return await self.ready(record)
            case RefundStep.REFUNDING if fresh:
                return await self.refund(record)
            case RefundStep.REFUNDING | RefundStep.UNKNOWN:
                # The provider may have sent the money back: ask before anything else.
                return await self.reconcile(record)
            case RefundStep.REFUNDED:
                return await self.record_refund(record)
            case step:
                raise RuntimeError(f"Bug: unhandled refund recovery point {step}")

    async def store(self, record: RefundRecord, transition: Transition) -> Moved[RefundRecord]:
        return await self.context.refunds.apply_to(record, transition)

    async def wait_for_capture(self, record: RefundRecord) -> None:
        payment = await self.context.payments.load(record.payment_id)
        if payment is None:
            raise RuntimeError(f"refund {record.id}: payment {record.payment_id} is gone")
        match payment.step:
            case Step.RECORDED:
                return
            case Step.CHARGED:
                raise Defer(
                    "payment not recorded yet",
                    delay=RETRY_DELAY_MS,
                    delay_max=RETRY_DELAY_MS_MAX,
                )
            case step:
                raise RuntimeError(f"Bug: refund {record.id} of a payment at {step}")

    async def ready(self, record: RefundRecord) -> Transition:
        await self.wait_for_capture(record)
        await self.provider(record.provider)
        # Stored before the call: whoever finds ``refunding`` later must look the refund up.
        return Transition(RefundStep.REFUNDING)

    async def refund(self, record: RefundRecord) -> Transition:
        answer = await self.context.providers[record.provider].refund(refund_request(record))
        if answer.outcome in (Outcome.RETRYABLE, Outcome.RATE_LIMITED):
            # Known not to have reached the provider's books: back to requested.
            return Transition(RefundStep.REQUESTED, then=try_again(answer))
        return settled(answer)

    async def reconcile(self, record: RefundRecord) -> Transition:
        provider = await self.provider(record.provider)
        answer = await provider.lookup_refund(
            refund_request(record), record.provider_refund_reference
        )
        match answer.outcome:
            case Outcome.NOT_ATTEMPTED:
                # Refunding again cannot refund twice (the provider says so): back to requested.
                return Transition(RefundStep.REQUESTED)
            case Outcome.RATE_LIMITED:
                raise rate_limited(answer)
        return settled(answer)

    async def record_refund(self, record: RefundRecord) -> Transition:
        entry = refund_entry(
            refund_id=record.id,
            payment_id=record.payment_id,
            merchant_id=record.merchant_id,
            clearing_account=clearing_account(record.provider, record.currency),
            amount=record.amount,
            currency=record.currency,
        )
        recorded = await self.record_in_ledger(entry)
        return Transition(
            RefundStep.RECORDED, ledger_fields(recorded), settlement=Settlement.REFUNDED
        )


@dramatiq.actor(
    actor_name=REFUND_ACTOR,
    queue_name=PAYMENTS_QUEUE,
    **actor_options(settings().refund_policy),
)
async def refund_payment(refund_id: str) -> None:
    await Refund(runtime(), refund_id).run()
