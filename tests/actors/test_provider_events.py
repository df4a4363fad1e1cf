"""The provider-event actor on real Redis, PostgreSQL and the simulator: a verified event
settles a payment or refund waiting for an answer, as a lookup would, without asking the
provider anything; it never moves money, never goes back and never contradicts a final state.

The events are read from the simulator's own objects by the adapters' webhook readers, and
applied through a runtime whose providers are unreachable: any provider call would fail."""

import dataclasses
import json
import time
from typing import Any

import pytest

from actors.charge import charge_request
from actors.middleware.retries import Defer
from actors.provider_events import CHARGING_GRACE_MS, apply_to_payment, apply_to_refund
from actors.runtime import Runtime
from app.payments.record import Step
from app.payments.request import PaymentRequest
from app.providers.events import ProviderEvent
from app.providers.paystack import webhooks as paystack_webhooks
from app.providers.stripe import webhooks as stripe_webhooks
from app.refunds.record import RefundStep
from app.settings import Settings
from tests.actors.conftest import RuntimeFactory
from tests.actors.test_charge import assert_recorded_once, at, ledger_rows, prepared_reference
from tests.actors.test_refund import amounts, refund_of, refund_rows, request_of
from tests.actors.test_refund import at as refund_at
from tests.support.processes import free_port
from tests.support.simulator import Simulator
from tests.support.worker import (
    PAYSTACK,
    REFUND_AMOUNT,
    STRIPE,
    accept_refund,
    accepted,
    record_of,
    recorded_payment,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def blind(settings: Settings, make_runtime: RuntimeFactory) -> Runtime:
    """A worker runtime whose providers cannot be reached: it can only apply what it is told."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    return make_runtime(
        dataclasses.replace(settings, stripe_api_base=nowhere, paystack_api_base=nowhere)
    )


def stripe_event(event_type: str, stripe_object: dict[str, Any]) -> ProviderEvent:
    event = {
        "id": f"evt_{stripe_object['id']}",
        "type": event_type,
        "data": {"object": stripe_object},
    }
    [provider_event] = stripe_webhooks.provider_events(event)
    return provider_event


def paystack_event(event_type: str, data: dict[str, Any]) -> ProviderEvent:
    payload = {"event": event_type, "data": data}
    [provider_event] = paystack_webhooks.provider_events(payload, json.dumps(payload).encode())
    return provider_event


async def charged_unknown(runtime: Runtime, request: PaymentRequest) -> tuple[str, str]:
    """A payment the provider charged while its answer was lost: ``unknown`` here."""
    payment_id = await accepted(runtime.redis, request)
    reference = await prepared_reference(runtime, payment_id)
    record = await record_of(runtime, payment_id)
    provider = runtime.providers[request.provider]
    assert (await provider.charge(charge_request(record), reference)).provider_reference
    await at(runtime, payment_id, Step.UNKNOWN, provider_reference=reference)
    return payment_id, reference


def succeeded_event(simulator: Simulator, provider: str, reference: str) -> ProviderEvent:
    if provider == "stripe":
        return stripe_event("payment_intent.succeeded", simulator.intent(reference))
    return paystack_event("charge.success", simulator.transaction(reference))


@pytest.mark.parametrize("request_", [STRIPE, PAYSTACK], ids=["stripe", "paystack"])
async def test_an_unknown_charge_is_settled_by_its_event_without_asking_the_provider(
    runtime: Runtime, blind: Runtime, simulator: Simulator, request_: PaymentRequest
) -> None:
    payment_id, reference = await charged_unknown(runtime, request_)
    event = succeeded_event(simulator, request_.provider, reference)

    await apply_to_payment(blind, event)
    await apply_to_payment(blind, event)  # a duplicate delivery finds it recorded

    await assert_recorded_once(runtime, simulator, payment_id)


async def test_an_event_gives_a_charge_call_in_flight_a_moment_to_answer_first(
    runtime: Runtime, blind: Runtime, simulator: Simulator
) -> None:
    payment_id, reference = await charged_unknown(runtime, STRIPE)
    await at(runtime, payment_id, Step.CHARGING)
    event = succeeded_event(simulator, "stripe", reference)
    just_now_ms = time.time_ns() // 1_000_000

    with pytest.raises(Defer) as wait:
        await apply_to_payment(blind, event, received_ms=just_now_ms)
    assert 0 < (wait.value.delay or 0) <= CHARGING_GRACE_MS
    assert (await record_of(runtime, payment_id)).step is Step.CHARGING

    await apply_to_payment(blind, event, received_ms=just_now_ms - CHARGING_GRACE_MS)
    await assert_recorded_once(runtime, simulator, payment_id)


async def test_an_event_never_moves_money_for_a_payment_not_waiting_for_an_answer(
    runtime: Runtime, blind: Runtime, simulator: Simulator
) -> None:
    payment_id, reference = await charged_unknown(runtime, STRIPE)
    event = succeeded_event(simulator, "stripe", reference)
    other = await accepted(runtime.redis, STRIPE)

    await apply_to_payment(blind, dataclasses.replace(event, payment_id=other))

    assert (await record_of(runtime, other)).step is Step.ACCEPTED
    assert simulator.charges_for(other) == []


async def test_an_event_never_contradicts_a_final_state(
    runtime: Runtime, blind: Runtime, simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    payment_id, reference = await charged_unknown(runtime, STRIPE)
    await at(runtime, payment_id, Step.DECLINED, failure_code="card_declined")

    await apply_to_payment(blind, succeeded_event(simulator, "stripe", reference))

    record = await record_of(runtime, payment_id)
    assert (record.step, record.failure_code) == (Step.DECLINED, "card_declined")
    assert ledger_rows(runtime.settings.database_url, payment_id) == []
    # ...yet money that moved for a failed payment is an operator's to hear of.
    assert f"moved money for failed payment {payment_id}" in caplog.text


async def test_a_late_event_never_takes_a_payment_back(
    runtime: Runtime, blind: Runtime, simulator: Simulator
) -> None:
    """Reordered: the customer-must-act event arrives after the one that settled the charge."""
    payment_id, reference = await charged_unknown(runtime, STRIPE)
    succeeded = succeeded_event(simulator, "stripe", reference)
    await apply_to_payment(blind, succeeded)
    needs_action = stripe_event(
        "payment_intent.requires_action",
        simulator.intent(reference) | {"status": "requires_action"},
    )

    await apply_to_payment(blind, needs_action)

    await assert_recorded_once(runtime, simulator, payment_id)


async def test_an_event_with_other_money_is_ignored(
    runtime: Runtime, blind: Runtime, simulator: Simulator
) -> None:
    payment_id, reference = await charged_unknown(runtime, STRIPE)
    event = succeeded_event(simulator, "stripe", reference)

    await apply_to_payment(blind, dataclasses.replace(event, amount=event.amount + 1))
    await apply_to_payment(blind, dataclasses.replace(event, provider="paystack"))

    assert (await record_of(runtime, payment_id)).step is Step.UNKNOWN


async def unknown_paystack_refund(runtime: Runtime) -> tuple[str, str, str]:
    """A Paystack refund made while its answer (and with it the refund's id) was lost."""
    payment_id = await recorded_payment(runtime, PAYSTACK)
    refund_id = await accept_refund(runtime, payment_id)
    answer = await runtime.providers["paystack"].refund(await request_of(runtime, refund_id))
    assert answer.provider_reference is not None
    await refund_at(runtime, refund_id, RefundStep.UNKNOWN)
    return payment_id, refund_id, answer.provider_reference


def refund_event(payment_reference: str, refund_reference: str, status: str) -> ProviderEvent:
    """As Paystack describes the refund: the transaction it refunds, not our refund."""
    data = {
        "id": int(refund_reference),
        "status": status,
        "transaction_reference": payment_reference,
        "amount": str(REFUND_AMOUNT),
        "currency": "NGN",
    }
    return paystack_event(f"refund.{status}", data)


async def test_an_unknown_paystack_refund_is_settled_by_its_webhook(
    runtime: Runtime, blind: Runtime, simulator: Simulator
) -> None:
    payment_id, refund_id, refund_reference = await unknown_paystack_refund(runtime)
    payment_reference = (await record_of(runtime, payment_id)).provider_reference
    assert payment_reference is not None

    await apply_to_refund(blind, refund_event(payment_reference, refund_reference, "processed"))

    record = await refund_of(runtime, refund_id)
    assert (record.step, record.provider_refund_reference) == (
        RefundStep.RECORDED,
        refund_reference,
    )
    assert len(refund_rows(runtime.settings.database_url, refund_id)) == 1
    assert await amounts(runtime, payment_id) == (0, REFUND_AMOUNT)
    assert len(simulator.refunds_for(payment_id)) == 1


async def test_a_failed_paystack_refund_releases_its_reservation(
    runtime: Runtime, blind: Runtime
) -> None:
    payment_id, refund_id, refund_reference = await unknown_paystack_refund(runtime)
    payment_reference = (await record_of(runtime, payment_id)).provider_reference
    assert payment_reference is not None

    await apply_to_refund(blind, refund_event(payment_reference, refund_reference, "failed"))

    record = await refund_of(runtime, refund_id)
    assert (record.step, record.failure_code) == (RefundStep.FAILED, "refund_failed")
    assert await amounts(runtime, payment_id) == (0, 0)
    assert refund_rows(runtime.settings.database_url, refund_id) == []


async def test_a_stripe_refund_event_settles_the_refund_it_names(
    runtime: Runtime, blind: Runtime, simulator: Simulator
) -> None:
    payment_id = await recorded_payment(runtime, STRIPE)
    refund_id = await accept_refund(runtime, payment_id)
    answer = await runtime.providers["stripe"].refund(await request_of(runtime, refund_id))
    assert answer.provider_reference is not None
    await refund_at(runtime, refund_id, RefundStep.UNKNOWN)
    refund = simulator.stripe_refund(answer.provider_reference)

    await apply_to_refund(blind, stripe_event("refund.updated", refund))

    assert (await refund_of(runtime, refund_id)).step is RefundStep.RECORDED
    assert await amounts(runtime, payment_id) == (0, REFUND_AMOUNT)
