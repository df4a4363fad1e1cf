"""The Stripe adapter against the simulator, through the official SDK over real HTTP."""

import dataclasses
import logging
import os
from collections.abc import AsyncIterator

import pytest
import stripe

from app.providers.base import ChargeRequest, Outcome, Provider, RefundRequest
from app.providers.registry import build_provider
from app.providers.stripe.client import SDK_LOG_LEVEL_MIN
from app.queue.keys import PAYMENT_ID_PREFIX, REFUND_ID_PREFIX, new_id
from app.settings import Settings
from tests.app.providers.conftest import (
    INJECTED_LATENCY_MS,
    TINY_TIMEOUT_S,
    closed_port_url,
    lookup_until_settled,
)
from tests.support.simulator import SECRET_KEY, Simulator

pytestmark = pytest.mark.anyio

AMOUNT = 2500


@pytest.fixture
async def stripe_provider(settings: Settings, simulator: Simulator) -> AsyncIterator[Provider]:
    provider = build_provider("stripe", settings)
    yield provider
    await provider.aclose()


def charge_request(payment_id: str, payment_method: str = "pm_card_visa") -> ChargeRequest:
    return ChargeRequest(
        payment_id=payment_id,
        merchant_id="mer_test",
        amount=AMOUNT,
        currency="usd",
        payment_method=payment_method,
        description="adapter test",
        metadata={"order": "42"},
    )


async def prepared(provider: Provider, request: ChargeRequest) -> str:
    outcome = await provider.prepare(request)
    assert outcome.outcome is Outcome.NOT_ATTEMPTED
    assert outcome.provider_reference is not None
    assert outcome.provider_reference.startswith("pi_")
    return outcome.provider_reference


async def test_a_good_card_is_charged_once(
    stripe_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id)
    intent_id = await prepared(stripe_provider, request)

    assert (await stripe_provider.lookup(request, intent_id)).outcome is Outcome.NOT_ATTEMPTED
    outcome = await stripe_provider.charge(request, intent_id)

    assert (outcome.outcome, outcome.provider_reference) == (Outcome.SUCCEEDED, intent_id)
    assert (await stripe_provider.lookup(request, intent_id)).outcome is Outcome.SUCCEEDED
    [charge] = simulator.charges_for(payment_id)
    assert (charge["amount"], charge["currency"], charge["provider_reference"]) == (
        AMOUNT,
        "usd",
        intent_id,
    )


async def test_repeating_every_step_charges_once(
    stripe_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id)
    intent_id = await prepared(stripe_provider, request)

    assert await prepared(stripe_provider, request) == intent_id
    first = await stripe_provider.charge(request, intent_id)
    second = await stripe_provider.charge(request, intent_id)

    assert first.outcome is second.outcome is Outcome.SUCCEEDED
    assert len(simulator.charges_for(payment_id)) == 1


async def test_a_declined_card_is_declined_and_stays_so(
    stripe_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id, "pm_card_chargeDeclined")
    intent_id = await prepared(stripe_provider, request)

    outcome = await stripe_provider.charge(request, intent_id)

    assert (outcome.outcome, outcome.failure_code) == (Outcome.DECLINED, "card_declined")
    assert outcome.failure_message == "Your card was declined."
    looked_up = await stripe_provider.lookup(request, intent_id)
    assert (looked_up.outcome, looked_up.failure_code) == (Outcome.DECLINED, "card_declined")
    assert simulator.charges_for(payment_id) == []


async def test_an_issuer_reason_becomes_the_failure_code(
    stripe_provider: Provider, payment_id: str
) -> None:
    request = charge_request(payment_id, "pm_card_chargeDeclinedInsufficientFunds")

    outcome = await stripe_provider.charge(request, await prepared(stripe_provider, request))

    assert (outcome.outcome, outcome.failure_code) == (Outcome.DECLINED, "insufficient_funds")


async def test_a_card_needing_authentication_requires_action(
    stripe_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id, "pm_card_authenticationRequired")
    intent_id = await prepared(stripe_provider, request)

    assert (await stripe_provider.charge(request, intent_id)).outcome is Outcome.REQUIRES_ACTION
    assert (await stripe_provider.lookup(request, intent_id)).outcome is Outcome.REQUIRES_ACTION
    assert simulator.charges_for(payment_id) == []


def stripe_customer(simulator: Simulator) -> str:
    """A Customer made through the official SDK, as a merchant's own backend would."""
    http_client = stripe.HTTPXClient(allow_sync_methods=True)
    client = stripe.StripeClient(
        SECRET_KEY, base_addresses={"api": simulator.base_url}, http_client=http_client
    )
    try:
        return client.v1.customers.create(params={"email": "ada@example.com"}).id
    finally:
        http_client.close()


async def test_a_customer_is_passed_to_the_payment_intent(
    stripe_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    customer_id = stripe_customer(simulator)
    request = dataclasses.replace(charge_request(payment_id), customer_id=customer_id)
    intent_id = await prepared(stripe_provider, request)

    assert (await stripe_provider.charge(request, intent_id)).outcome is Outcome.SUCCEEDED
    assert simulator.intent(intent_id)["customer"] == customer_id


async def test_a_customer_stripe_refuses_fails_the_payment_with_its_reason(
    stripe_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = dataclasses.replace(charge_request(payment_id), customer_id="cus_unknown")

    outcome = await stripe_provider.prepare(request)

    assert (outcome.outcome, outcome.failure_code) == (Outcome.DECLINED, "resource_missing")
    assert outcome.failure_message == "No such customer: 'cus_unknown'"
    assert simulator.charges_for(payment_id) == []


async def test_an_unknown_payment_method_is_declined_without_quoting_it(
    stripe_provider: Provider, payment_id: str
) -> None:
    outcome = await stripe_provider.prepare(charge_request(payment_id, "pm_card_nonexistent"))

    assert (outcome.outcome, outcome.failure_code) == (Outcome.DECLINED, "resource_missing")
    assert outcome.failure_message is not None
    assert "pm_card_nonexistent" not in outcome.failure_message


async def test_an_answer_lost_after_the_charge_is_unknown_until_looked_up(
    stripe_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id)
    intent_id = await prepared(stripe_provider, request)
    simulator.configure(fail_after_rate=1)

    assert (await stripe_provider.charge(request, intent_id)).outcome is Outcome.UNKNOWN
    simulator.configure(fail_after_rate=0)

    assert (await stripe_provider.lookup(request, intent_id)).outcome is Outcome.SUCCEEDED
    assert len(simulator.charges_for(payment_id)) == 1


async def test_an_answer_lost_after_the_create_is_found_by_search(
    stripe_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    """Stripe replays a stored 500 for the create key, so only a search can find the intent."""
    request = charge_request(payment_id)
    simulator.configure(fail_after_rate=1)

    outcome = await stripe_provider.prepare(request)
    simulator.configure(fail_after_rate=0)

    assert outcome.outcome is Outcome.NOT_ATTEMPTED
    assert outcome.provider_reference is not None
    assert (
        await stripe_provider.charge(request, outcome.provider_reference)
    ).outcome is Outcome.SUCCEEDED
    assert len(simulator.charges_for(payment_id)) == 1


async def test_a_failure_before_the_charge_is_retryable_and_the_retry_charges_once(
    stripe_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id)
    intent_id = await prepared(stripe_provider, request)
    simulator.configure(fail_before_rate=1)

    assert (await stripe_provider.charge(request, intent_id)).outcome is Outcome.RETRYABLE
    assert simulator.charges_for(payment_id) == []
    simulator.configure(fail_before_rate=0)

    assert (await stripe_provider.charge(request, intent_id)).outcome is Outcome.SUCCEEDED
    assert len(simulator.charges_for(payment_id)) == 1


async def test_a_rate_limit_is_rate_limited_and_charges_nothing(
    stripe_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id)
    intent_id = await prepared(stripe_provider, request)
    simulator.configure(rate_limit_rate=1)

    limited = Outcome.RATE_LIMITED
    assert (await stripe_provider.prepare(charge_request(f"{payment_id}x"))).outcome is limited
    assert (await stripe_provider.charge(request, intent_id)).outcome is limited
    assert simulator.charges_for(payment_id) == []


async def test_a_closed_port_is_retryable(settings: Settings, payment_id: str) -> None:
    provider = build_provider(
        "stripe", dataclasses.replace(settings, stripe_api_base=closed_port_url())
    )
    request = charge_request(payment_id)
    try:
        refused = await provider.prepare(request)
        assert refused.outcome is Outcome.RETRYABLE
        assert refused.failure_message is not None
        assert refused.failure_message.startswith("NotSent")
        assert "ConnectionRefusedError" in refused.failure_message
        assert (await provider.charge(request, "pi_unreachable")).outcome is Outcome.RETRYABLE
        assert (await provider.lookup(request, "pi_unreachable")).outcome is Outcome.RETRYABLE
    finally:
        await provider.aclose()


async def test_a_read_timeout_is_unknown_and_lookup_resolves_it(
    stripe_provider: Provider, settings: Settings, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id)
    intent_id = await prepared(stripe_provider, request)
    hasty = build_provider(
        "stripe", dataclasses.replace(settings, provider_timeout_s=TINY_TIMEOUT_S)
    )
    simulator.configure(latency_ms=INJECTED_LATENCY_MS)
    try:
        timed_out = await hasty.charge(request, intent_id)
    finally:
        await hasty.aclose()
    simulator.configure(latency_ms=0)
    assert timed_out.outcome is Outcome.UNKNOWN
    assert timed_out.failure_message is not None
    assert timed_out.failure_message.startswith("TimeoutError")

    outcome = await lookup_until_settled(lambda: stripe_provider.lookup(request, intent_id))

    assert outcome.outcome is Outcome.SUCCEEDED
    assert len(simulator.charges_for(payment_id)) == 1


async def test_a_stored_reference_stripe_does_not_know_is_unknown(
    stripe_provider: Provider, payment_id: str
) -> None:
    outcome = await stripe_provider.lookup(charge_request(payment_id), "pi_doesnotexist")

    assert (outcome.outcome, outcome.provider_reference) == (Outcome.UNKNOWN, "pi_doesnotexist")


async def test_a_rejected_secret_key_is_retryable_after_a_long_wait(
    settings: Settings, payment_id: str
) -> None:
    provider = build_provider("stripe", dataclasses.replace(settings, stripe_secret_key="wrong"))
    try:
        outcome = await provider.prepare(charge_request(payment_id))
    finally:
        await provider.aclose()

    assert outcome.outcome is Outcome.RETRYABLE
    assert outcome.retry_after_s is not None and outcome.retry_after_s >= 60


async def charged(provider: Provider, payment_id: str) -> str:
    request = charge_request(payment_id)
    reference = await prepared(provider, request)
    assert (await provider.charge(request, reference)).outcome is Outcome.SUCCEEDED
    return reference


def refund_request(payment_id: str, reference: str, amount: int = 1000) -> RefundRequest:
    return RefundRequest(
        refund_id=new_id(REFUND_ID_PREFIX, 0),
        payment_id=payment_id,
        provider_reference=reference,
        amount=amount,
        currency="usd",
    )


async def test_a_refund_is_made_once_under_its_refund_id_and_looked_up(
    stripe_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = refund_request(payment_id, await charged(stripe_provider, payment_id))

    first = await stripe_provider.refund(request)
    repeated = await stripe_provider.refund(request)

    assert first.outcome is Outcome.SUCCEEDED
    assert first.provider_reference is not None and first.provider_reference.startswith("re_")
    assert repeated == first
    assert [refund["amount"] for refund in simulator.refunds_for(payment_id)] == [1000]
    found = await stripe_provider.lookup_refund(request, first.provider_reference)
    assert (found.outcome, found.provider_reference) == (
        Outcome.SUCCEEDED,
        first.provider_reference,
    )
    # Without its id, Stripe's idempotency makes repeating the refund the way to learn it.
    assert (await stripe_provider.lookup_refund(request, None)).outcome is Outcome.NOT_ATTEMPTED


async def test_refunds_beyond_the_charge_or_of_no_charge_are_declined(
    stripe_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    reference = await charged(stripe_provider, payment_id)
    unconfirmed = await prepared(stripe_provider, charge_request(new_id(PAYMENT_ID_PREFIX, 0)))

    too_much = await stripe_provider.refund(refund_request(payment_id, reference, AMOUNT + 1))
    nothing_to_refund = await stripe_provider.refund(refund_request(payment_id, unconfirmed))

    assert (too_much.outcome, too_much.failure_code) == (Outcome.DECLINED, "amount_too_large")
    assert nothing_to_refund.outcome is Outcome.DECLINED
    assert simulator.refunds_for(payment_id) == []


async def test_a_refund_stripe_does_not_know_is_unknown_on_lookup(
    stripe_provider: Provider, payment_id: str
) -> None:
    request = refund_request(payment_id, "pi_nope")

    assert (await stripe_provider.lookup_refund(request, "re_nope")).outcome is Outcome.UNKNOWN


async def test_a_refund_to_a_closed_port_is_retryable(settings: Settings, payment_id: str) -> None:
    provider = build_provider(
        "stripe", dataclasses.replace(settings, stripe_api_base=closed_port_url())
    )
    try:
        outcome = await provider.refund(refund_request(payment_id, "pi_any"))
    finally:
        await provider.aclose()

    assert outcome.outcome is Outcome.RETRYABLE


async def test_the_sdks_request_lines_still_come_out_when_its_logger_takes_them(
    stripe_provider: Provider, payment_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK's request lines are formatted only when they can go anywhere: silenced by
    default, and all there once someone turns the ``stripe`` logger up."""
    sdk_logger = logging.getLogger("stripe")
    caplog.set_level(logging.DEBUG)
    sdk_logger.setLevel(SDK_LOG_LEVEL_MIN)
    await prepared(stripe_provider, charge_request(payment_id))
    assert [r for r in caplog.records if r.name == "stripe"] == []

    sdk_logger.setLevel(logging.DEBUG)
    try:
        await prepared(stripe_provider, charge_request(new_id(PAYMENT_ID_PREFIX, 0)))
    finally:
        sdk_logger.setLevel(SDK_LOG_LEVEL_MIN)
    lines = [r.getMessage() for r in caplog.records if r.name == "stripe"]
    assert any("Request to Stripe api" in line for line in lines), lines
    assert any("Stripe API response" in line for line in lines), lines


async def test_the_user_agent_still_names_the_ai_agent_the_environment_names(
    stripe_provider: Provider,
) -> None:
    """The SDK's agent lookup runs once per process instead of once per call: the header
    still says what the SDK's own list says of this environment."""
    agents = stripe._api_requestor._APIRequestor.AI_AGENTS
    named = next((agent for variable, agent in agents if os.environ.get(variable)), None)
    client = stripe.StripeClient("sk_test_header", http_client=stripe.AIOHTTPClient())
    user_agent = client._requestor.request_headers("post", "V1", {})["User-Agent"]

    assert user_agent.endswith(f" AIAgent/{named}") if named else "AIAgent/" not in user_agent
