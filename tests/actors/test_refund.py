"""The refund actor's recovery points, each resumed from, on real Redis, PostgreSQL and the
simulator: money goes back at most once whatever point a message resumes from, the ledger gets
one refund transaction, and the payment's reservations always add up."""

import dataclasses
import json
import time

import dramatiq
import psycopg
import pytest

from actors.charge import Charge
from actors.refund import Refund, refund_request
from actors.runtime import Runtime
from app.idempotency import fingerprint
from app.ledger import append, clearing_account, refund_entry
from app.payments.record import Step, view
from app.payments.request import PaymentRequest
from app.providers.base import RefundRequest
from app.queue import keys
from app.queue.dispatch import PAYMENTS_QUEUE, refund_message
from app.refunds.accept import REFUND_LUA
from app.refunds.record import RefundRecord, RefundStep
from app.refunds.record import view as refund_view
from app.settings import Settings
from tests.actors.conftest import RuntimeFactory
from tests.support.simulator import Simulator
from tests.support.worker import (
    PARTITIONS,
    PAYSTACK,
    STRIPE,
    UNREACHABLE_DATABASE_URL,
    accepted,
    events_of,
    record_of,
)

#: Far below the latency the ambiguous-refund test injects.
TINY_TIMEOUT_S = 0.3
INJECTED_LATENCY_MS = 1500
SIMULATOR_DEADLINE_S = 10.0
SIMULATOR_POLL_S = 0.1
REFUND_AMOUNT = 1000


pytestmark = pytest.mark.anyio


async def recorded_payment(runtime: Runtime, request: PaymentRequest) -> str:
    payment_id = await accepted(runtime.redis, request)
    await Charge(runtime, payment_id).run()
    assert (await record_of(runtime, payment_id)).step is Step.RECORDED
    return payment_id


async def accept_refund(runtime: Runtime, payment_id: str, amount: int = REFUND_AMOUNT) -> str:
    """A refund accepted by the real accept script, as the API would."""
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, PARTITIONS)
    assert partition is not None
    refund_id = keys.new_id(keys.REFUND_ID_PREFIX, partition)
    merchant_id = (await record_of(runtime, payment_id)).merchant_id
    script = runtime.redis.register_script(REFUND_LUA)
    result = await script(
        keys=[
            keys.refund_idempotency_key(partition, merchant_id, payment_id, refund_id),
            keys.payment_key(partition, payment_id),
            keys.refund_key(partition, refund_id),
            keys.stream_key(partition, PAYMENTS_QUEUE),
        ],
        args=[
            fingerprint({"amount": amount}, f"POST /v1/payments/{payment_id}/refunds"),
            merchant_id,
            amount,
            refund_id,
            int(time.time()),
            3600,
            3600,
            refund_message(refund_id, partition),
            f"/v1/refunds/{refund_id}",
            202,
        ],
    )
    assert result[0] == b"created", result
    return refund_id


async def refund_of(runtime: Runtime, refund_id: str) -> RefundRecord:
    record = await runtime.refunds.load(refund_id)
    assert record is not None
    return record


async def request_of(runtime: Runtime, refund_id: str) -> RefundRequest:
    return refund_request(await refund_of(runtime, refund_id))


async def at(runtime: Runtime, refund_id: str, step: RefundStep, **fields: str) -> None:
    partition = keys.partition_of(refund_id, keys.REFUND_ID_PREFIX, PARTITIONS)
    assert partition is not None
    await runtime.redis.hset(
        keys.refund_key(partition, refund_id), mapping={"step": step.value, **fields}
    )


async def amounts(runtime: Runtime, payment_id: str) -> tuple[int, int]:
    """The payment's (reserved, refunded) amounts."""
    record = await record_of(runtime, payment_id)
    return record.amount_refund_pending, record.amount_refunded


def refund_rows(database_url: str, refund_id: str) -> list[tuple[int, str]]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT seq, id FROM ledger_transactions WHERE business_key = %s",
            (f"{refund_id}:refund",),
        ).fetchall()
    return [(seq, transaction_id) for seq, transaction_id in rows]


async def assert_refunded_once(
    runtime: Runtime, simulator: Simulator, payment_id: str, refund_id: str
) -> None:
    record = await refund_of(runtime, refund_id)
    assert record.step is RefundStep.RECORDED
    movements = simulator.refunds_for(payment_id)
    assert [movement["amount"] for movement in movements] == [record.amount]
    [(seq, transaction_id)] = refund_rows(runtime.settings.database_url, refund_id)
    assert (record.ledger_seq, record.ledger_transaction_id) == (seq, transaction_id)
    assert await amounts(runtime, payment_id) == (0, record.amount)
    refund_events = [e for e in await events_of(runtime, payment_id) if e.type.startswith("refund")]
    [event] = [e for e in refund_events if json.loads(e.body)["data"]["object"]["id"] == refund_id]
    assert (event.type, json.loads(event.body)["data"]["object"]) == (
        "refund.succeeded",
        refund_view(record),
    )


@pytest.mark.parametrize("request_", [STRIPE, PAYSTACK], ids=["stripe", "paystack"])
async def test_a_partial_refund_then_the_rest_each_go_back_once_and_are_recorded(
    runtime: Runtime, simulator: Simulator, request_: PaymentRequest
) -> None:
    payment_id = await recorded_payment(runtime, request_)
    first = await accept_refund(runtime, payment_id)

    await Refund(runtime, first).run()
    await Refund(runtime, first).run()  # a duplicate delivery finds it recorded

    await assert_refunded_once(runtime, simulator, payment_id, first)
    payment = view(await record_of(runtime, payment_id))
    assert (payment["status"], payment["amount_refunded"]) == ("partially_refunded", 1000)
    assert refund_view(await refund_of(runtime, first))["status"] == "succeeded"
    rest = await accept_refund(runtime, payment_id, request_.amount - REFUND_AMOUNT)
    await Refund(runtime, rest).run()
    payment = view(await record_of(runtime, payment_id))
    assert (payment["status"], payment["amount_refunded"]) == ("refunded", request_.amount)
    assert len(simulator.refunds_for(payment_id)) == 2
    assert await amounts(runtime, payment_id) == (0, request_.amount)


async def test_resumes_from_refunding_after_stripe_moved_the_money_without_refunding_again(
    runtime: Runtime, simulator: Simulator
) -> None:
    """A worker died right after Stripe refunded: its answer, and so its id, were lost."""
    payment_id = await recorded_payment(runtime, STRIPE)
    refund_id = await accept_refund(runtime, payment_id)
    await runtime.providers["stripe"].refund(await request_of(runtime, refund_id))
    await at(runtime, refund_id, RefundStep.REFUNDING)

    await Refund(runtime, refund_id).run()

    await assert_refunded_once(runtime, simulator, payment_id, refund_id)


async def test_resumes_from_refunding_before_stripe_moved_the_money_and_refunds_once(
    runtime: Runtime, simulator: Simulator
) -> None:
    payment_id = await recorded_payment(runtime, STRIPE)
    refund_id = await accept_refund(runtime, payment_id)
    await at(runtime, refund_id, RefundStep.REFUNDING)

    await Refund(runtime, refund_id).run()

    await assert_refunded_once(runtime, simulator, payment_id, refund_id)


@pytest.mark.parametrize("request_", [STRIPE, PAYSTACK], ids=["stripe", "paystack"])
async def test_resumes_from_unknown_with_the_refund_id_by_looking_it_up(
    runtime: Runtime, simulator: Simulator, request_: PaymentRequest
) -> None:
    payment_id = await recorded_payment(runtime, request_)
    refund_id = await accept_refund(runtime, payment_id)
    done = await runtime.providers[request_.provider].refund(await request_of(runtime, refund_id))
    assert done.provider_reference is not None
    await at(
        runtime, refund_id, RefundStep.UNKNOWN, provider_refund_reference=done.provider_reference
    )

    await Refund(runtime, refund_id).run()

    await assert_refunded_once(runtime, simulator, payment_id, refund_id)
    assert (
        await refund_of(runtime, refund_id)
    ).provider_refund_reference == done.provider_reference


async def test_a_paystack_refund_found_refunding_is_parked_unknown_never_sent_again(
    runtime: Runtime, simulator: Simulator
) -> None:
    """Paystack has no refund idempotency and no lookup without the refund's id: a refund cut
    off mid-call stays unknown, its amount reserved, for an operator to reconcile."""
    payment_id = await recorded_payment(runtime, PAYSTACK)
    refund_id = await accept_refund(runtime, payment_id)
    await at(runtime, refund_id, RefundStep.REFUNDING)

    for _ in range(2):
        with pytest.raises(dramatiq.Retry):
            await Refund(runtime, refund_id).run()

    assert (await refund_of(runtime, refund_id)).step is RefundStep.UNKNOWN
    assert simulator.refunds_for(payment_id) == []
    assert await amounts(runtime, payment_id) == (REFUND_AMOUNT, 0)


async def test_an_ambiguous_paystack_refund_goes_unknown_and_is_never_repeated(
    runtime: Runtime, simulator: Simulator, settings: Settings, make_runtime: RuntimeFactory
) -> None:
    payment_id = await recorded_payment(runtime, PAYSTACK)
    refund_id = await accept_refund(runtime, payment_id)
    hasty_settings = dataclasses.replace(settings, provider_timeout_s=TINY_TIMEOUT_S)
    hasty = make_runtime(hasty_settings)
    simulator.configure(latency_ms=INJECTED_LATENCY_MS)
    try:
        with pytest.raises(dramatiq.Retry):
            await Refund(hasty, refund_id).run()
    finally:
        simulator.configure(latency_ms=0)

    assert (await refund_of(runtime, refund_id)).step is RefundStep.UNKNOWN
    assert wait_for_refunds(simulator, payment_id) == 1
    with pytest.raises(dramatiq.Retry):
        await Refund(runtime, refund_id).run()
    assert len(simulator.refunds_for(payment_id)) == 1
    assert await amounts(runtime, payment_id) == (REFUND_AMOUNT, 0)


async def test_a_refused_refund_fails_and_releases_its_reservation(
    runtime: Runtime, simulator: Simulator
) -> None:
    payment_id = await recorded_payment(runtime, STRIPE)
    refund_id = await accept_refund(runtime, payment_id)
    # Someone refunded the whole charge at Stripe, outside paystream: Stripe refuses ours.
    everything = dataclasses.replace(
        await request_of(runtime, refund_id), refund_id="re_outside", amount=STRIPE.amount
    )
    await runtime.providers["stripe"].refund(everything)

    await Refund(runtime, refund_id).run()

    record = await refund_of(runtime, refund_id)
    assert (record.step, record.failure_code) == (
        RefundStep.FAILED,
        "charge_already_refunded",
    )
    assert refund_view(record)["status"] == "failed"
    assert await amounts(runtime, payment_id) == (0, 0)
    assert [event.type for event in await events_of(runtime, payment_id)] == [
        "payment.succeeded",
        "refund.failed",
    ]
    assert refund_rows(runtime.settings.database_url, refund_id) == []


async def test_a_refund_waits_until_its_payments_capture_is_recorded(
    runtime: Runtime, simulator: Simulator, settings: Settings, make_runtime: RuntimeFactory
) -> None:
    payment_id = await accepted(runtime.redis, STRIPE)
    outage = make_runtime(settings, UNREACHABLE_DATABASE_URL)
    with pytest.raises(dramatiq.Retry):
        await Charge(outage, payment_id).run()
    refund_id = await accept_refund(runtime, payment_id)

    with pytest.raises(dramatiq.Retry):
        await Refund(runtime, refund_id).run()

    assert (await refund_of(runtime, refund_id)).step is RefundStep.REQUESTED
    assert simulator.refunds_for(payment_id) == []
    await Charge(runtime, payment_id).run()
    await Refund(runtime, refund_id).run()
    await assert_refunded_once(runtime, simulator, payment_id, refund_id)


async def test_resumes_from_refunded_once_the_ledger_is_back(
    runtime: Runtime, simulator: Simulator, settings: Settings, make_runtime: RuntimeFactory
) -> None:
    payment_id = await recorded_payment(runtime, STRIPE)
    refund_id = await accept_refund(runtime, payment_id)
    outage = make_runtime(settings, UNREACHABLE_DATABASE_URL)

    with pytest.raises(dramatiq.Retry):
        await Refund(outage, refund_id).run()

    assert (await refund_of(runtime, refund_id)).step is RefundStep.REFUNDED
    assert await amounts(runtime, payment_id) == (REFUND_AMOUNT, 0)
    await Refund(runtime, refund_id).run()
    await assert_refunded_once(runtime, simulator, payment_id, refund_id)


async def test_resumes_from_refunded_when_the_ledger_already_holds_the_refund(
    runtime: Runtime, simulator: Simulator
) -> None:
    """A worker died between the ledger commit and moving the point: nothing recorded twice."""
    payment_id = await recorded_payment(runtime, STRIPE)
    refund_id = await accept_refund(runtime, payment_id)
    done = await runtime.providers["stripe"].refund(await request_of(runtime, refund_id))
    record = await refund_of(runtime, refund_id)
    entry = refund_entry(
        refund_id=refund_id,
        payment_id=payment_id,
        merchant_id=record.merchant_id,
        clearing_account=clearing_account("stripe", "usd"),
        amount=REFUND_AMOUNT,
        currency="usd",
    )
    [first] = append(runtime.database, [entry])
    await at(
        runtime,
        refund_id,
        RefundStep.REFUNDED,
        provider_refund_reference=str(done.provider_reference),
    )

    await Refund(runtime, refund_id).run()

    await assert_refunded_once(runtime, simulator, payment_id, refund_id)
    assert (await refund_of(runtime, refund_id)).ledger_seq == first.seq


async def test_a_message_without_a_record_is_dropped(runtime: Runtime) -> None:
    refund_id = keys.new_id(keys.REFUND_ID_PREFIX, 0)

    await Refund(runtime, refund_id).run()

    assert await runtime.refunds.load(refund_id) is None


def wait_for_refunds(simulator: Simulator, payment_id: str) -> int:
    """Refunds of the payment once the simulator has finished a timed-out request."""
    deadline = time.monotonic() + SIMULATOR_DEADLINE_S
    while not simulator.refunds_for(payment_id) and time.monotonic() < deadline:
        time.sleep(SIMULATOR_POLL_S)
    return len(simulator.refunds_for(payment_id))
