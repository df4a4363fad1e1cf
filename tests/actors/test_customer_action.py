"""3-D Secure hand-off on real Redis, PostgreSQL and the simulator: a payment the customer
must authenticate shows how, waits for them, settles by lookup or webhook when they do, and
fails with ``authentication_timeout`` (its charge abandoned) when they never do."""

import dataclasses
import time

import pytest

from actors.charge import Charge
from actors.customer_action import AUTHENTICATION_TIMEOUT_CODE
from actors.middleware.retries import Defer
from actors.provider_events import apply_to_payment
from actors.runtime import Runtime
from app.payments.record import Step, view
from app.payments.request import PaymentRequest
from tests.actors.test_charge import assert_recorded_once, at, ledger_rows
from tests.actors.test_provider_events import paystack_event
from tests.support.simulator import Simulator
from tests.support.worker import PAYSTACK, STRIPE, accepted, record_of

pytestmark = pytest.mark.anyio

STRIPE_3DS = dataclasses.replace(STRIPE, payment_method="pm_card_authenticationRequired")
PAYSTACK_3DS = dataclasses.replace(PAYSTACK, payment_method="AUTH_authenticationRequired")


async def waiting_for_customer(runtime: Runtime, request: PaymentRequest) -> str:
    payment_id = await accepted(runtime.redis, request)
    with pytest.raises(Defer) as wait:
        await Charge(runtime, payment_id).run()
    assert wait.value.delay is not None and wait.value.delay > 0
    assert (await record_of(runtime, payment_id)).step is Step.REQUIRES_ACTION
    return payment_id


async def past_its_deadline(runtime: Runtime, payment_id: str) -> None:
    await at(runtime, payment_id, Step.REQUIRES_ACTION, action_deadline=str(int(time.time()) - 1))


async def test_a_stripe_payment_shows_the_client_secret_until_its_deadline(
    runtime: Runtime, simulator: Simulator
) -> None:
    before_s = int(time.time())

    payment_id = await waiting_for_customer(runtime, STRIPE_3DS)

    record = await record_of(runtime, payment_id)
    shown = view(record)
    assert shown["status"] == "requires_action"
    intent_id = record.provider_reference
    assert intent_id is not None
    action = shown["next_action"]
    assert action["type"] == "use_stripe_sdk"
    assert action["client_secret"] == simulator.intent(intent_id)["client_secret"]
    timeout_s = runtime.settings.requires_action_timeout_s
    assert before_s + timeout_s <= action["expires_at"] <= int(time.time()) + timeout_s
    assert simulator.charges_for(payment_id) == []


async def test_the_customer_authenticates_and_a_lookup_settles_it(
    runtime: Runtime, simulator: Simulator
) -> None:
    payment_id = await waiting_for_customer(runtime, STRIPE_3DS)
    intent_id = (await record_of(runtime, payment_id)).provider_reference
    assert intent_id is not None

    assert simulator.authenticate("payment_intents", intent_id) == 200
    await Charge(runtime, payment_id).run()  # the deferred lookup

    await assert_recorded_once(runtime, simulator, payment_id)


async def test_a_customer_who_fails_authentication_fails_the_payment(
    runtime: Runtime, simulator: Simulator
) -> None:
    payment_id = await waiting_for_customer(runtime, STRIPE_3DS)
    intent_id = (await record_of(runtime, payment_id)).provider_reference
    assert intent_id is not None

    assert simulator.authenticate("payment_intents", intent_id, succeed=False) == 200
    await Charge(runtime, payment_id).run()

    record = await record_of(runtime, payment_id)
    assert (record.step, record.failure_code) == (
        Step.DECLINED,
        "payment_intent_authentication_failure",
    )


async def test_a_customer_who_never_acts_fails_it_and_the_intent_is_canceled(
    runtime: Runtime, simulator: Simulator
) -> None:
    payment_id = await waiting_for_customer(runtime, STRIPE_3DS)
    intent_id = (await record_of(runtime, payment_id)).provider_reference
    assert intent_id is not None
    await past_its_deadline(runtime, payment_id)

    await Charge(runtime, payment_id).run()

    record = await record_of(runtime, payment_id)
    assert (record.step, record.failure_code) == (Step.DECLINED, AUTHENTICATION_TIMEOUT_CODE)
    assert view(record)["failure"]["code"] == AUTHENTICATION_TIMEOUT_CODE
    assert simulator.intent(intent_id)["status"] == "canceled"
    # Authenticating late can move no money any more.
    assert simulator.authenticate("payment_intents", intent_id) == 409
    assert simulator.charges_for(payment_id) == []


async def test_a_customer_who_acts_just_before_the_deadline_is_charged_not_failed(
    runtime: Runtime, simulator: Simulator
) -> None:
    payment_id = await waiting_for_customer(runtime, STRIPE_3DS)
    intent_id = (await record_of(runtime, payment_id)).provider_reference
    assert intent_id is not None
    assert simulator.authenticate("payment_intents", intent_id) == 200
    await past_its_deadline(runtime, payment_id)

    await Charge(runtime, payment_id).run()

    await assert_recorded_once(runtime, simulator, payment_id)


async def test_a_paused_paystack_charge_shows_its_page_and_settles_by_webhook(
    runtime: Runtime, simulator: Simulator
) -> None:
    payment_id = await waiting_for_customer(runtime, PAYSTACK_3DS)
    record = await record_of(runtime, payment_id)
    reference = record.provider_reference
    assert reference is not None
    action = view(record)["next_action"]
    assert action["type"] == "redirect_to_url"
    assert action["redirect_url"].endswith(reference)

    assert simulator.authenticate("transactions", reference) == 200
    await apply_to_payment(
        runtime, paystack_event("charge.success", simulator.transaction(reference))
    )

    await assert_recorded_once(runtime, simulator, payment_id)
    assert ledger_rows(runtime.settings.database_url, payment_id) != []
