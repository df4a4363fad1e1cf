"""The provider-event actor: applies one verified webhook event to its payment or refund, as the
answer a lookup would have given, through the same state machines and compare-and-set moves.

It never moves money: the only phases it runs are taking the event's answer, from a step that
is waiting for one, and recording in the ledger an outcome that answer reached. It never
contradicts a final state, nor goes back: a record that is final, or not waiting for an answer,
or already where the answer would move it, is left as it is. So a delayed, duplicated or
reordered event changes nothing a timely one did not.

    payment  charging | unknown | requires_action ──answer──▶ charged ──ledger──▶ recorded
                                                          └─▶ declined | requires_action
    refund   unknown ──answer──▶ refunded ──ledger──▶ recorded
                             └─▶ failed (reservation released)

A Paystack refund event names the refunded transaction and an amount, not our refund: it
settles the oldest of the payment's refunds waiting in ``unknown`` for that amount.
"""

import dataclasses
import logging
import time

import dramatiq

from actors.charge import SETTLED_STEP, Charge, settled
from actors.middleware.retries import Defer, actor_options
from actors.phases import StateMachine
from actors.refund import Refund
from actors.refund import settled as refund_settled
from actors.runtime import Runtime, runtime
from actors.state import Transition
from app.payments.record import PaymentRecord, Step
from app.providers.base import Outcome, ProviderAnswer
from app.providers.events import ProviderEvent, Subject, decode
from app.queue import keys
from app.queue.dispatch import PAYMENTS_QUEUE, PROVIDER_EVENT_ACTOR
from app.recovery import Record, RecoveryStep
from app.refunds.record import RefundRecord, RefundStep
from app.settings import settings

#: Payment steps waiting for the provider's answer: a charge call in flight or lost, or a
#: customer who must act first.
AWAITING_ANSWER = frozenset({Step.CHARGING, Step.UNKNOWN, Step.REQUIRES_ACTION})
#: Refund answers an event can settle a waiting refund with.
REFUND_SETTLING = frozenset({Outcome.SUCCEEDED, Outcome.DECLINED})
#: A payment still ``charging`` when its event arrives usually has its charge call's own answer
#: moments away: the event waits this long after it was received before it settles the
#: payment, so the two do not both record it (a lost or hung answer still settles in seconds).
CHARGING_GRACE_MS = 2_000
#: Refunds one payment may have is bounded by its amount; this bounds one event's search.
REFUNDS_SEARCHED_MAX = 1_000
logger = logging.getLogger(__name__)


def payment_transition(
    record: PaymentRecord, answer: ProviderAnswer, action_timeout_s: int
) -> Transition | None:
    """Where the answer moves a payment waiting for one; None when it moves nothing. The
    move's own wait is the charge message's to keep: this message is done once it is stored."""
    target = SETTLED_STEP.get(answer.outcome)
    if target is None or record.step not in AWAITING_ANSWER or target is record.step:
        return None
    return dataclasses.replace(settled(answer, action_timeout_s), then=None)


def refund_transition(record: RefundRecord, answer: ProviderAnswer) -> Transition | None:
    """Where the answer moves a refund waiting in ``unknown``; None when it moves nothing."""
    if record.step is not RefundStep.UNKNOWN or answer.outcome not in REFUND_SETTLING:
        return None
    return refund_settled(answer)


def same_payment(record: PaymentRecord, event: ProviderEvent) -> bool:
    """The event's object moves this payment's money: same provider, amount and currency, and
    the provider object the payment prepared (when it has got that far)."""
    request = record.request
    reference = event.answer.provider_reference
    return (
        request.provider == event.provider
        and (request.amount, request.currency) == (event.amount, event.currency)
        and (record.provider_reference is None or reference in (None, record.provider_reference))
    )


def same_refund(record: RefundRecord, event: ProviderEvent) -> bool:
    reference = event.answer.provider_reference
    return (
        (record.payment_id, record.provider) == (event.payment_id, event.provider)
        and (record.amount, record.currency) == (event.amount, event.currency)
        and (reference is None or record.provider_refund_reference in (None, reference))
    )


class AnsweredByEvent(StateMachine[Record]):
    """A state machine that takes its provider answer from an event: it moves the record once,
    from a step waiting for an answer, then records the outcome; it never calls the provider."""

    #: The step where the answer is taken and only the ledger record remains.
    answered_step: RecoveryStep
    answered = False

    def transition(self, record: Record) -> Transition | None:
        """Where the event's answer moves the record; None when it moves nothing."""
        raise NotImplementedError

    async def record_outcome(self, record: Record) -> Transition:
        raise NotImplementedError

    def done(self, record: Record) -> bool:
        if record.step.final:
            return True
        if record.step is self.answered_step:
            return False
        return self.answered or self.transition(record) is None

    async def phase(self, record: Record, fresh: bool) -> Transition:
        if record.step is self.answered_step:
            return await self.record_outcome(record)
        transition = self.transition(record)
        if transition is None:
            raise RuntimeError(f"Bug: {record.id} at {record.step} has no move for the event")
        self.answered = True
        return transition


class ChargeFromEvent(AnsweredByEvent[PaymentRecord], Charge):
    """The charge's state machine, answered by the event instead of a provider call."""

    answered_step = Step.CHARGED

    def __init__(self, context: Runtime, event: ProviderEvent) -> None:
        super().__init__(context, event.payment_id)
        self.answer = event.answer

    def transition(self, record: PaymentRecord) -> Transition | None:
        return payment_transition(record, self.answer, self.action_timeout_s)

    async def record_outcome(self, record: PaymentRecord) -> Transition:
        return await self.record_capture(record)


class RefundFromEvent(AnsweredByEvent[RefundRecord], Refund):
    """The refund's state machine, answered by the event instead of a provider call."""

    answered_step = RefundStep.REFUNDED

    def __init__(self, context: Runtime, refund_id: str, answer: ProviderAnswer) -> None:
        super().__init__(context, refund_id)
        self.answer = answer

    def transition(self, record: RefundRecord) -> Transition | None:
        return refund_transition(record, self.answer)

    async def record_outcome(self, record: RefundRecord) -> Transition:
        return await self.record_refund(record)


async def apply_to_payment(context: Runtime, event: ProviderEvent, received_ms: int = 0) -> None:
    record = await context.payments.load(event.payment_id)
    if record is None:
        logger.info("%s: no payment %s; ignored", event.event_id, event.payment_id)
        return
    if not same_payment(record, event):
        logger.error("%s names payment %s but not its money; ignored", event.event_id, record.id)
        return
    if record.step is Step.DECLINED and event.answer.outcome is Outcome.SUCCEEDED:
        # Never contradicted, but never hidden: money moved for a payment we failed (a
        # customer completing a Paystack charge after its deadline): it is an operator's to
        # refund.
        logger.error(
            "%s: %s moved money for failed payment %s", event.event_id, event.provider, record.id
        )
    grace_left_ms = received_ms + CHARGING_GRACE_MS - time.time_ns() // 1_000_000
    if record.step is Step.CHARGING and grace_left_ms > 0:
        raise Defer("a charge call is in flight: its own answer first", delay=grace_left_ms)
    await ChargeFromEvent(context, event).run()


async def apply_to_refund(context: Runtime, event: ProviderEvent) -> None:
    refund = await refund_for(context, event)
    if refund is None:
        logger.info("%s: no refund of %s waits for it; ignored", event.event_id, event.payment_id)
        return
    await RefundFromEvent(context, refund.id, event.answer).run()


async def refund_for(context: Runtime, event: ProviderEvent) -> RefundRecord | None:
    """The refund the event settles: the one it names, else the payment's oldest refund
    waiting in ``unknown`` for the event's amount."""
    if event.refund_id is not None:
        named = await context.refunds.load(event.refund_id)
        return named if named is not None and same_refund(named, event) else None
    waiting = [
        record
        for record in await refunds_of(context, event.payment_id)
        if record.step is RefundStep.UNKNOWN and same_refund(record, event)
    ]
    return min(waiting, key=lambda record: (record.created, record.id), default=None)


async def refunds_of(context: Runtime, payment_id: str) -> list[RefundRecord]:
    partition = keys.partition_of(
        payment_id, keys.PAYMENT_ID_PREFIX, context.settings.stream_partitions
    )
    if partition is None:
        return []
    refund_ids: list[bytes] = await context.batcher.command(
        "SRANDMEMBER", keys.payment_refunds_key(partition, payment_id), REFUNDS_SEARCHED_MAX
    )
    records = [await context.refunds.load(refund_id.decode()) for refund_id in refund_ids]
    return [record for record in records if record is not None]


@dramatiq.actor(
    actor_name=PROVIDER_EVENT_ACTOR,
    queue_name=PAYMENTS_QUEUE,
    **actor_options(settings().charge_policy),
)
async def settle_from_provider_event(event_json: str, received_ms: int) -> None:
    event = decode(event_json)
    match event.subject:
        case Subject.PAYMENT:
            await apply_to_payment(runtime(), event, received_ms)
        case Subject.REFUND:
            await apply_to_refund(runtime(), event)
