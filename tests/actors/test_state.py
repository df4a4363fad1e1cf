"""Recovery points on the real Redis: a move answers the record its caller wrote, and that is
the record Redis holds (its event too); a refused move answers the record as Redis holds it."""

import pytest

from actors.runtime import Runtime
from actors.state import Settlement, Transition
from app.payments.record import Step
from app.refunds.record import RefundStep
from tests.support.worker import (
    STRIPE,
    accept_refund,
    accepted,
    recorded_payment,
    waiting_events,
)

pytestmark = pytest.mark.anyio


async def test_each_move_answers_the_record_redis_now_holds(runtime: Runtime) -> None:
    payment_id = await accepted(runtime.redis, STRIPE)
    record = await runtime.payments.load(payment_id)
    moves = [
        Transition(Step.CHARGING, {"provider_reference": "pi_1"}),
        Transition(Step.REQUIRES_ACTION, {"next_action_type": "redirect", "action_deadline": "9"}),
        Transition(Step.CHARGED),
        Transition(Step.RECORDED, {"ledger_transaction_id": "tx_1", "ledger_seq": "7"}),
    ]
    published = []
    for transition in moves:
        assert record is not None
        made = await runtime.payments.apply(record, transition)
        assert made.moved
        record = made.record
        assert record == await runtime.payments.load(payment_id), transition.target
        if made.published is not None:
            published.append(made.published)

    # Each event as the move answered it is the event as Redis stored it.
    assert published == await waiting_events(runtime, payment_id)

    assert record is not None and record.event_seq == 2  # requires_action, then succeeded
    assert record.relay_pending is not None and record.relay_pending.startswith("evt_")


async def test_a_refund_move_answers_the_refund_redis_now_holds(runtime: Runtime) -> None:
    payment_id = await recorded_payment(runtime, STRIPE)
    refund_id = await accept_refund(runtime, payment_id)
    refund = await runtime.refunds.load(refund_id)
    assert refund is not None
    failed = Transition(RefundStep.FAILED, {"failure_code": "declined"}, Settlement.RELEASED)

    made = await runtime.refunds.apply_to(refund, failed)

    assert made.moved and made.record == await runtime.refunds.load(refund_id)
    payment = await runtime.payments.load(payment_id)
    assert payment is not None and payment.event_seq == 2


async def test_a_refused_move_answers_the_record_as_another_worker_left_it(
    runtime: Runtime,
) -> None:
    payment_id = await accepted(runtime.redis, STRIPE)
    stale = await runtime.payments.load(payment_id)
    assert stale is not None
    first = await runtime.payments.apply(
        stale, Transition(Step.CHARGING, {"provider_reference": "pi_1"})
    )

    second = await runtime.payments.apply(stale, Transition(Step.DECLINED))

    assert first.moved and not second.moved
    assert second.record == first.record == await runtime.payments.load(payment_id)
