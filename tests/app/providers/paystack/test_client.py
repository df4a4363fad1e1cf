"""The Paystack adapter against the simulator, over real HTTP."""

import dataclasses
import time
from collections.abc import AsyncIterator

import pytest

from app.providers.base import ChargeRequest, Outcome, Provider, RefundRequest
from app.providers.paystack import transformers
from app.providers.registry import build_provider
from app.queue.keys import REFUND_ID_PREFIX, new_id
from app.settings import Settings
from tests.app.providers.conftest import (
    INJECTED_LATENCY_MS,
    LOOKUP_DEADLINE_S,
    LOOKUP_INTERVAL_S,
    TINY_TIMEOUT_S,
    closed_port_url,
    lookup_until_settled,
)
from tests.support.simulator import Simulator

pytestmark = pytest.mark.anyio

AMOUNT = 500_000


@pytest.fixture
async def paystack_provider(settings: Settings, simulator: Simulator) -> AsyncIterator[Provider]:
    provider = build_provider("paystack", settings)
    yield provider
    await provider.aclose()


def charge_request(
    payment_id: str, payment_method: str = "AUTH_success", email: str | None = "ada@example.com"
) -> ChargeRequest:
    return ChargeRequest(
        payment_id=payment_id,
        merchant_id="mer_test",
        amount=AMOUNT,
        currency="ngn",
        payment_method=payment_method,
        customer_email=email,
    )


async def prepared(provider: Provider, request: ChargeRequest) -> str:
    outcome = await provider.prepare(request)
    assert outcome.outcome is Outcome.NOT_ATTEMPTED
    assert outcome.provider_reference == transformers.reference_of(request.payment_id)
    return outcome.provider_reference


async def test_a_good_authorization_is_charged_once(
    paystack_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id)
    reference = await prepared(paystack_provider, request)

    assert (await paystack_provider.lookup(request, reference)).outcome is Outcome.NOT_ATTEMPTED
    outcome = await paystack_provider.charge(request, reference)

    assert (outcome.outcome, outcome.provider_reference) == (Outcome.SUCCEEDED, reference)
    assert (await paystack_provider.lookup(request, reference)).outcome is Outcome.SUCCEEDED
    [charge] = simulator.charges_for(payment_id)
    assert (charge["amount"], charge["currency"].lower()) == (AMOUNT, "ngn")
    assert charge["reference"] == reference


async def test_a_reference_stored_verbatim_by_an_earlier_version_still_charges(
    paystack_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    """Records in Redis keep the id itself as their reference; Paystack would refuse its "_"."""
    request = charge_request(payment_id)

    outcome = await paystack_provider.charge(request, payment_id)

    assert outcome.outcome is Outcome.SUCCEEDED
    assert outcome.provider_reference == transformers.reference_of(payment_id)
    assert (await paystack_provider.lookup(request, payment_id)).outcome is Outcome.SUCCEEDED
    assert len(simulator.charges_for(payment_id)) == 1


async def test_a_repeated_charge_verifies_instead_and_charges_once(
    paystack_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id)
    reference = await prepared(paystack_provider, request)

    first = await paystack_provider.charge(request, reference)
    second = await paystack_provider.charge(request, reference)

    assert first.outcome is second.outcome is Outcome.SUCCEEDED
    assert len(simulator.charges_for(payment_id)) == 1


async def test_a_declined_authorization_is_declined_and_stays_so(
    paystack_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id, "AUTH_declined")
    reference = await prepared(paystack_provider, request)

    outcome = await paystack_provider.charge(request, reference)

    assert (outcome.outcome, outcome.failure_code) == (Outcome.DECLINED, "card_declined")
    again = await paystack_provider.charge(request, reference)
    assert (again.outcome, again.failure_code) == (Outcome.DECLINED, "card_declined")
    assert (await paystack_provider.lookup(request, reference)).outcome is Outcome.DECLINED
    assert simulator.charges_for(payment_id) == []


async def test_a_charge_without_an_email_is_declined_before_any_call(
    paystack_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id, email=None)

    prepared_outcome = await paystack_provider.prepare(request)
    charged = await paystack_provider.charge(request, payment_id)

    assert (prepared_outcome.outcome, prepared_outcome.failure_code) == (
        Outcome.DECLINED,
        "email_required",
    )
    assert (charged.outcome, charged.failure_code) == (Outcome.DECLINED, "email_required")
    assert (await paystack_provider.lookup(request, payment_id)).outcome is Outcome.NOT_ATTEMPTED


async def test_an_unknown_authorization_is_declined(
    paystack_provider: Provider, payment_id: str
) -> None:
    request = charge_request(payment_id, "AUTH_nonexistent")

    outcome = await paystack_provider.charge(request, await prepared(paystack_provider, request))

    assert outcome.outcome is Outcome.DECLINED
    assert outcome.failure_message == "Invalid authorization code"


async def test_an_answer_lost_after_the_charge_is_unknown_until_verified(
    paystack_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id)
    reference = await prepared(paystack_provider, request)
    simulator.configure(fail_after_rate=1)

    assert (await paystack_provider.charge(request, reference)).outcome is Outcome.UNKNOWN
    simulator.configure(fail_after_rate=0)

    assert (await paystack_provider.lookup(request, reference)).outcome is Outcome.SUCCEEDED
    assert (await paystack_provider.charge(request, reference)).outcome is Outcome.SUCCEEDED
    assert len(simulator.charges_for(payment_id)) == 1


async def test_a_failure_before_the_charge_leaves_nothing_charged(
    paystack_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id)
    reference = await prepared(paystack_provider, request)
    simulator.configure(fail_before_rate=1)

    # Paystack gives no "nothing happened" signal, so even a 500-before is only UNKNOWN.
    assert (await paystack_provider.charge(request, reference)).outcome is Outcome.UNKNOWN
    simulator.configure(fail_before_rate=0)

    assert (await paystack_provider.lookup(request, reference)).outcome is Outcome.NOT_ATTEMPTED
    assert simulator.charges_for(payment_id) == []
    assert (await paystack_provider.charge(request, reference)).outcome is Outcome.SUCCEEDED
    assert len(simulator.charges_for(payment_id)) == 1


async def test_a_rate_limit_is_rate_limited_and_charges_nothing(
    paystack_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id)
    reference = await prepared(paystack_provider, request)
    simulator.configure(rate_limit_rate=1)

    assert (await paystack_provider.charge(request, reference)).outcome is Outcome.RATE_LIMITED
    assert simulator.charges_for(payment_id) == []


async def test_a_closed_port_is_retryable(settings: Settings, payment_id: str) -> None:
    unreachable = dataclasses.replace(settings, paystack_api_base=closed_port_url())
    provider = build_provider("paystack", unreachable)
    request = charge_request(payment_id)
    try:
        refused = await provider.charge(request, payment_id)
        assert refused.outcome is Outcome.RETRYABLE
        assert refused.failure_message is not None
        assert refused.failure_message.startswith("ClientConnectorError")
        assert (await provider.lookup(request, payment_id)).outcome is Outcome.RETRYABLE
    finally:
        await provider.aclose()


async def test_a_read_timeout_is_unknown_and_verify_resolves_it(
    paystack_provider: Provider, settings: Settings, simulator: Simulator, payment_id: str
) -> None:
    request = charge_request(payment_id)
    reference = await prepared(paystack_provider, request)
    hasty_settings = dataclasses.replace(settings, provider_timeout_s=TINY_TIMEOUT_S)
    hasty = build_provider("paystack", hasty_settings)
    simulator.configure(latency_ms=INJECTED_LATENCY_MS)
    try:
        timed_out = await hasty.charge(request, reference)
    finally:
        await hasty.aclose()
    simulator.configure(latency_ms=0)
    assert timed_out.outcome is Outcome.UNKNOWN
    assert timed_out.failure_message is not None
    assert timed_out.failure_message.startswith("TimeoutError")

    outcome = await lookup_until_settled(lambda: paystack_provider.lookup(request, reference))

    assert outcome.outcome is Outcome.SUCCEEDED
    assert len(simulator.charges_for(payment_id)) == 1


async def test_a_rejected_secret_key_is_retryable_after_a_long_wait(
    settings: Settings, payment_id: str
) -> None:
    provider = build_provider("paystack", dataclasses.replace(settings, paystack_secret_key="x"))
    try:
        outcome = await provider.charge(charge_request(payment_id), payment_id)
    finally:
        await provider.aclose()

    assert outcome.outcome is Outcome.RETRYABLE
    assert outcome.retry_after_s is not None and outcome.retry_after_s >= 60


async def charged(provider: Provider, payment_id: str) -> str:
    request = charge_request(payment_id)
    reference = await prepared(provider, request)
    assert (await provider.charge(request, reference)).outcome is Outcome.SUCCEEDED
    return reference


def refund_request(payment_id: str, reference: str, amount: int = 100_000) -> RefundRequest:
    return RefundRequest(
        refund_id=new_id(REFUND_ID_PREFIX, 0),
        payment_id=payment_id,
        provider_reference=reference,
        amount=amount,
        currency="ngn",
    )


async def test_a_refund_succeeds_and_is_looked_up_by_its_id(
    paystack_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    request = refund_request(payment_id, await charged(paystack_provider, payment_id))

    outcome = await paystack_provider.refund(request)

    assert outcome.outcome is Outcome.SUCCEEDED
    assert outcome.provider_reference is not None and outcome.provider_reference.isdigit()
    assert [refund["amount"] for refund in simulator.refunds_for(payment_id)] == [100_000]
    found = await paystack_provider.lookup_refund(request, outcome.provider_reference)
    assert (found.outcome, found.provider_reference) == (
        Outcome.SUCCEEDED,
        outcome.provider_reference,
    )


async def test_a_refund_without_its_id_cannot_be_looked_up_and_is_unknown(
    paystack_provider: Provider, payment_id: str
) -> None:
    request = refund_request(payment_id, payment_id)

    assert (await paystack_provider.lookup_refund(request, None)).outcome is Outcome.UNKNOWN
    assert (await paystack_provider.lookup_refund(request, "999")).outcome is Outcome.UNKNOWN


async def test_a_refund_beyond_the_charge_is_declined(
    paystack_provider: Provider, simulator: Simulator, payment_id: str
) -> None:
    reference = await charged(paystack_provider, payment_id)

    outcome = await paystack_provider.refund(refund_request(payment_id, reference, AMOUNT + 1))

    assert outcome.outcome is Outcome.DECLINED
    assert simulator.refunds_for(payment_id) == []


async def test_a_refund_read_timeout_is_unknown_and_refunds_once(
    paystack_provider: Provider, settings: Settings, simulator: Simulator, payment_id: str
) -> None:
    request = refund_request(payment_id, await charged(paystack_provider, payment_id))
    hasty = build_provider(
        "paystack", dataclasses.replace(settings, provider_timeout_s=TINY_TIMEOUT_S)
    )
    simulator.configure(latency_ms=INJECTED_LATENCY_MS)
    try:
        timed_out = await hasty.refund(request)
    finally:
        await hasty.aclose()
        simulator.configure(latency_ms=0)

    assert timed_out.outcome is Outcome.UNKNOWN
    assert wait_for_refunds(simulator, payment_id) == 1


async def test_a_refund_to_a_closed_port_is_retryable(settings: Settings, payment_id: str) -> None:
    provider = build_provider(
        "paystack", dataclasses.replace(settings, paystack_api_base=closed_port_url())
    )
    try:
        outcome = await provider.refund(refund_request(payment_id, payment_id))
    finally:
        await provider.aclose()

    assert outcome.outcome is Outcome.RETRYABLE


def wait_for_refunds(simulator: Simulator, payment_id: str) -> int:
    """Refunds of the payment once the simulator has finished a timed-out request."""
    deadline = time.monotonic() + LOOKUP_DEADLINE_S
    while not simulator.refunds_for(payment_id) and time.monotonic() < deadline:
        time.sleep(LOOKUP_INTERVAL_S)
    return len(simulator.refunds_for(payment_id))
