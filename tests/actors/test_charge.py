"""The charge actor's recovery points, each resumed from, on real Redis, PostgreSQL and the
simulator: money moves at most once whatever point a message resumes from."""

import dataclasses
import json
import time

import dramatiq
import psycopg
import pytest

from actors.charge import Charge, charge_request
from actors.middleware.retries import Defer
from actors.middleware.throttle import RATE_WINDOW_S
from actors.runtime import Runtime
from app.ledger import append, capture_entry, clearing_account
from app.payments.record import Step, view
from app.payments.request import PaymentRequest
from app.queue import keys
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

pytestmark = pytest.mark.anyio


async def at(runtime: Runtime, payment_id: str, step: Step, **fields: str) -> None:
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, PARTITIONS)
    assert partition is not None
    await runtime.redis.hset(
        keys.payment_key(partition, payment_id), mapping={"step": step.value, **fields}
    )


def ledger_rows(database_url: str, payment_id: str) -> list[tuple[int, str]]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT seq, id FROM ledger_transactions WHERE reference = %s", (payment_id,)
        ).fetchall()
    return [(seq, transaction_id) for seq, transaction_id in rows]


async def assert_recorded_once(runtime: Runtime, simulator: Simulator, payment_id: str) -> None:
    record = await record_of(runtime, payment_id)
    assert record.step is Step.RECORDED
    assert len(simulator.charges_for(payment_id)) == 1
    [(seq, transaction_id)] = ledger_rows(runtime.settings.database_url, payment_id)
    assert (record.ledger_seq, record.ledger_transaction_id) == (seq, transaction_id)


def wait_for_a_window_start() -> None:
    """So the calls that follow all fall into one rate-limit window."""
    window_s = float(RATE_WINDOW_S)
    time.sleep(window_s - time.time() % window_s)


async def prepared_reference(runtime: Runtime, payment_id: str) -> str:
    record = await record_of(runtime, payment_id)
    outcome = await runtime.providers[record.request.provider].prepare(charge_request(record))
    assert outcome.provider_reference is not None
    return outcome.provider_reference


@pytest.mark.parametrize("request_", [STRIPE, PAYSTACK], ids=["stripe", "paystack"])
async def test_an_accepted_payment_is_charged_once_and_recorded(
    runtime: Runtime, simulator: Simulator, request_: PaymentRequest
) -> None:
    payment_id = await accepted(runtime.redis, request_)

    await Charge(runtime, payment_id).run()
    await Charge(runtime, payment_id).run()  # a duplicate delivery finds it recorded

    await assert_recorded_once(runtime, simulator, payment_id)
    [event] = await events_of(runtime, payment_id)
    assert event.type == "payment.succeeded"
    assert json.loads(event.body)["data"]["object"] == view(await record_of(runtime, payment_id))


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (dataclasses.replace(STRIPE, payment_method="pm_card_chargeDeclined"), "card_declined"),
        (dataclasses.replace(PAYSTACK, payment_method="AUTH_declined"), "card_declined"),
    ],
    ids=["stripe", "paystack"],
)
async def test_a_decline_is_final_with_the_providers_code_and_records_nothing(
    runtime: Runtime, simulator: Simulator, request_: PaymentRequest, code: str
) -> None:
    payment_id = await accepted(runtime.redis, request_)

    await Charge(runtime, payment_id).run()

    record = await record_of(runtime, payment_id)
    assert (record.step, record.failure_code) == (Step.DECLINED, code)
    assert simulator.charges_for(payment_id) == []
    assert ledger_rows(runtime.settings.database_url, payment_id) == []
    [event] = await events_of(runtime, payment_id)
    assert (event.type, json.loads(event.body)["data"]["object"]) == (
        "payment.failed",
        view(record),
    )


async def test_a_card_needing_authentication_stops_at_requires_action(
    runtime: Runtime, simulator: Simulator
) -> None:
    request = dataclasses.replace(STRIPE, payment_method="pm_card_authenticationRequired")
    payment_id = await accepted(runtime.redis, request)

    await Charge(runtime, payment_id).run()

    assert (await record_of(runtime, payment_id)).step is Step.REQUIRES_ACTION
    assert simulator.charges_for(payment_id) == []
    assert [event.type for event in await events_of(runtime, payment_id)] == [
        "payment.requires_action"
    ]


async def test_resumes_from_prepared(runtime: Runtime, simulator: Simulator) -> None:
    payment_id = await accepted(runtime.redis, STRIPE)
    reference = await prepared_reference(runtime, payment_id)
    await at(runtime, payment_id, Step.PREPARED, provider_reference=reference)

    await Charge(runtime, payment_id).run()

    await assert_recorded_once(runtime, simulator, payment_id)
    assert (await record_of(runtime, payment_id)).provider_reference == reference


@pytest.mark.parametrize("request_", [STRIPE, PAYSTACK], ids=["stripe", "paystack"])
async def test_resumes_from_charging_after_the_money_moved_without_charging_again(
    runtime: Runtime, simulator: Simulator, request_: PaymentRequest
) -> None:
    """A worker died right after the provider charged: the next one must only look it up."""
    payment_id = await accepted(runtime.redis, request_)
    reference = await prepared_reference(runtime, payment_id)
    record = await record_of(runtime, payment_id)
    await runtime.providers[record.request.provider].charge(charge_request(record), reference)
    await at(runtime, payment_id, Step.CHARGING, provider_reference=reference)

    await Charge(runtime, payment_id).run()

    await assert_recorded_once(runtime, simulator, payment_id)


@pytest.mark.parametrize("request_", [STRIPE, PAYSTACK], ids=["stripe", "paystack"])
async def test_resumes_from_charging_before_the_money_moved_and_charges_once(
    runtime: Runtime, simulator: Simulator, request_: PaymentRequest
) -> None:
    payment_id = await accepted(runtime.redis, request_)
    reference = await prepared_reference(runtime, payment_id)
    await at(runtime, payment_id, Step.CHARGING, provider_reference=reference)

    await Charge(runtime, payment_id).run()

    await assert_recorded_once(runtime, simulator, payment_id)


async def test_an_ambiguous_answer_goes_unknown_and_is_reconciled_not_recharged(
    runtime: Runtime, simulator: Simulator
) -> None:
    payment_id = await accepted(runtime.redis, STRIPE)
    await at(
        runtime,
        payment_id,
        Step.PREPARED,
        provider_reference=await prepared_reference(runtime, payment_id),
    )
    simulator.configure(fail_after_rate=1)

    with pytest.raises(Defer):
        await Charge(runtime, payment_id).run()

    assert (await record_of(runtime, payment_id)).step is Step.UNKNOWN
    assert len(simulator.charges_for(payment_id)) == 1
    await Charge(runtime, payment_id).run()  # still failing charges: only a lookup may happen now
    await assert_recorded_once(runtime, simulator, payment_id)


async def test_a_failure_before_the_charge_returns_to_prepared_and_retries(
    runtime: Runtime, simulator: Simulator
) -> None:
    payment_id = await accepted(runtime.redis, STRIPE)
    await at(
        runtime,
        payment_id,
        Step.PREPARED,
        provider_reference=await prepared_reference(runtime, payment_id),
    )
    simulator.configure(fail_before_rate=1)

    with pytest.raises(dramatiq.Retry) as retry:
        await Charge(runtime, payment_id).run()

    assert not isinstance(retry.value, Defer)  # a failure: it uses the retry budget
    assert (await record_of(runtime, payment_id)).step is Step.PREPARED
    assert simulator.charges_for(payment_id) == []
    simulator.configure(fail_before_rate=0)
    await Charge(runtime, payment_id).run()
    await assert_recorded_once(runtime, simulator, payment_id)


async def test_resumes_from_charged_once_the_ledger_is_back(
    runtime: Runtime, simulator: Simulator, settings: Settings, make_runtime: RuntimeFactory
) -> None:
    payment_id = await accepted(runtime.redis, STRIPE)
    outage = make_runtime(settings, UNREACHABLE_DATABASE_URL)

    with pytest.raises(Defer):
        await Charge(outage, payment_id).run()

    assert (await record_of(runtime, payment_id)).step is Step.CHARGED
    assert len(simulator.charges_for(payment_id)) == 1
    await Charge(runtime, payment_id).run()
    await assert_recorded_once(runtime, simulator, payment_id)


async def test_resumes_from_charged_when_the_ledger_already_holds_the_outcome(
    runtime: Runtime, simulator: Simulator
) -> None:
    """A worker died between the ledger commit and moving the point: nothing is recorded twice."""
    payment_id = await accepted(runtime.redis, STRIPE)
    reference = await prepared_reference(runtime, payment_id)
    record = await record_of(runtime, payment_id)
    await runtime.providers["stripe"].charge(charge_request(record), reference)
    entry = capture_entry(
        payment_id=payment_id,
        merchant_id=record.merchant_id,
        clearing_account=clearing_account("stripe", "usd"),
        amount=record.request.amount,
        currency=record.request.currency,
    )
    [first] = append(runtime.database, [entry])
    await at(runtime, payment_id, Step.CHARGED, provider_reference=reference)

    await Charge(runtime, payment_id).run()

    await assert_recorded_once(runtime, simulator, payment_id)
    assert (await record_of(runtime, payment_id)).ledger_seq == first.seq
    assert [event.type for event in await events_of(runtime, payment_id)] == ["payment.succeeded"]


async def test_a_message_without_a_record_is_dropped(runtime: Runtime) -> None:
    payment_id = keys.new_id(keys.PAYMENT_ID_PREFIX, 0)

    await Charge(runtime, payment_id).run()

    assert await runtime.payments.load(payment_id) is None


async def test_our_rate_limit_defers_before_any_provider_call(
    runtime: Runtime, simulator: Simulator, settings: Settings, make_runtime: RuntimeFactory
) -> None:
    payment_id = await accepted(runtime.redis, STRIPE)
    await at(
        runtime,
        payment_id,
        Step.PREPARED,
        provider_reference=await prepared_reference(runtime, payment_id),
    )
    exhausted = dataclasses.replace(
        settings, stripe_secret_key=f"sk_test_{payment_id}", stripe_account_rate_per_s=1
    )
    limited = make_runtime(exhausted)
    wait_for_a_window_start()
    await limited.throttle.admit("stripe")  # the window's one call is spent

    with pytest.raises(Defer):
        await Charge(limited, payment_id).run()

    assert (await record_of(runtime, payment_id)).step is Step.PREPARED
    assert simulator.charges_for(payment_id) == []


async def test_a_provider_429_goes_back_to_prepared_and_defers(
    runtime: Runtime, simulator: Simulator
) -> None:
    payment_id = await accepted(runtime.redis, PAYSTACK)
    await at(runtime, payment_id, Step.PREPARED, provider_reference=payment_id)
    simulator.configure(rate_limit_rate=1)

    with pytest.raises(Defer):
        await Charge(runtime, payment_id).run()

    assert (await record_of(runtime, payment_id)).step is Step.PREPARED
    assert simulator.charges_for(payment_id) == []
    simulator.configure(rate_limit_rate=0)
    await Charge(runtime, payment_id).run()
    await assert_recorded_once(runtime, simulator, payment_id)
