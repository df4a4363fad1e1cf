"""Stripe's wire vocabulary mapped to our outcomes: pure functions, no network."""

from typing import Any

import aiohttp
import pytest
import stripe
from stripe._api_requestor import _APIRequestor

from app.providers.base import (
    REDIRECT_TO_URL,
    USE_STRIPE_SDK,
    ChargeRequest,
    NextAction,
    Outcome,
    ProviderAnswer,
    RefundRequest,
)
from app.providers.stripe import transformers
from app.providers.transport import NotSent, TransportError
from tests.app.providers.conftest import refused_connection

REQUEST = ChargeRequest(
    payment_id="pay_00test",
    merchant_id="mer_1",
    amount=1999,
    currency="usd",
    payment_method="pm_card_visa",
    description="order 42",
    metadata={"order": "42"},
)


def api_error(status: int, error: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    """The error a live call raises: built by the SDK's own dispatch on status and body."""
    body = {"error": error}
    try:
        _APIRequestor._global_instance().handle_error_response(
            str(body), status, body, headers or {}, "V1"
        )
    except stripe.StripeError as raised:
        return raised
    raise AssertionError("the SDK raised nothing")


def connection_error(cause: BaseException) -> stripe.APIConnectionError:
    error = stripe.APIConnectionError("Unexpected error communicating with Stripe.")
    error.__cause__ = cause
    return error


def intent(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": "pi_1", "status": status, **fields}


def test_idempotency_keys_derive_from_the_payment_id_only() -> None:
    assert transformers.create_idempotency_key(REQUEST) == "pay_00test"
    assert transformers.confirm_idempotency_key(REQUEST) == "pay_00test:confirm"


def test_create_params_never_confirm_and_carry_our_ids() -> None:
    params = transformers.create_params(REQUEST)

    assert params["confirm"] is False
    assert params["amount"] == 1999
    assert params["currency"] == "usd"
    assert params["payment_method"] == "pm_card_visa"
    assert params["description"] == "order 42"
    assert params["metadata"] == {
        "m_order": "42",
        "payment_id": "pay_00test",
        "merchant_id": "mer_1",
    }


def test_create_params_omit_a_missing_description_and_lower_the_currency() -> None:
    params = transformers.create_params(ChargeRequest("pay_1", "mer_1", 100, "EUR", "pm_card_visa"))

    assert "description" not in params
    assert params["currency"] == "eur"


def test_merchant_metadata_cannot_overwrite_ours() -> None:
    request = ChargeRequest(
        "pay_1", "mer_1", 100, "usd", "pm_x", metadata={"payment_id": "evil", "merchant_id": "x"}
    )

    metadata = transformers.payment_intent_metadata(request)

    assert metadata["payment_id"] == "pay_1"
    assert metadata["merchant_id"] == "mer_1"
    assert metadata["m_payment_id"] == "evil"


def test_metadata_keeps_to_stripe_limits_deterministically() -> None:
    merchant = {f"k{index:02d}": "v" for index in range(50)}
    merchant["x" * 39] = "too long once prefixed"
    merchant["a[b]"] = "brackets"
    request = ChargeRequest("pay_1", "mer_1", 100, "usd", "pm_x", metadata=merchant)

    metadata = transformers.payment_intent_metadata(request)

    assert len(metadata) == transformers.METADATA_KEYS_MAX
    assert all(len(key) <= transformers.METADATA_KEY_CHARS_MAX for key in metadata)
    assert "m_a[b]" not in metadata
    assert "m_k47" in metadata and "m_k48" not in metadata
    reordered = ChargeRequest(
        "pay_1", "mer_1", 100, "usd", "pm_x", metadata=dict(reversed(merchant.items()))
    )
    assert list(transformers.payment_intent_metadata(reordered).items()) == list(metadata.items())


def test_confirm_is_off_session() -> None:
    assert transformers.confirm_params() == {"off_session": True}


@pytest.mark.parametrize(
    ("payment_intent", "expected"),
    [
        (intent("succeeded"), Outcome.SUCCEEDED),
        (intent("requires_confirmation"), Outcome.NOT_ATTEMPTED),
        (intent("requires_payment_method", last_payment_error=None), Outcome.NOT_ATTEMPTED),
        (intent("requires_payment_method"), Outcome.NOT_ATTEMPTED),
        (intent("requires_action"), Outcome.REQUIRES_ACTION),
        (intent("processing"), Outcome.PENDING),
        (intent("requires_capture"), Outcome.PENDING),
        (intent("canceled"), Outcome.DECLINED),
        (intent("something_new"), Outcome.UNKNOWN),
        ({"id": "pi_1"}, Outcome.UNKNOWN),
    ],
)
def test_every_intent_status_maps_to_one_outcome(
    payment_intent: dict[str, Any], expected: Outcome
) -> None:
    outcome = transformers.outcome_of_intent(payment_intent)

    assert outcome.outcome is expected
    assert outcome.provider_reference == "pi_1"


def test_a_canceled_intent_is_declined_as_canceled() -> None:
    outcome = transformers.outcome_of_intent(intent("canceled", cancellation_reason="abandoned"))

    assert (outcome.failure_code, outcome.failure_message) == ("canceled", "abandoned")


def test_a_refused_attempt_is_declined_with_its_code() -> None:
    last_error = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
    }

    outcome = transformers.outcome_of_intent(
        intent("requires_payment_method", last_payment_error=last_error)
    )

    assert outcome == ProviderAnswer(Outcome.DECLINED, "pi_1", "insufficient_funds", None)


def test_an_attempt_refused_for_authentication_requires_action() -> None:
    last_error = {"code": "authentication_required", "message": "needs 3DS"}

    outcome = transformers.outcome_of_intent(
        intent("requires_payment_method", last_payment_error=last_error)
    )

    assert outcome.outcome is Outcome.REQUIRES_ACTION


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"code": "card_declined", "decline_code": "generic_decline"}, "card_declined"),
        ({"code": "card_declined", "decline_code": "insufficient_funds"}, "insufficient_funds"),
        ({"code": "expired_card"}, "expired_card"),
        ({"code": "card_declined", "decline_code": ""}, "card_declined"),
        ({}, "card_declined"),
    ],
)
def test_decline_code_prefers_a_specific_issuer_reason(
    error: dict[str, Any], expected: str
) -> None:
    assert transformers.decline_code(error) == expected


@pytest.mark.parametrize(
    "cause",
    [
        refused_connection(),
        aiohttp.ConnectionTimeoutError("no connection within the connect timeout"),
        NotSent("no free connection in time"),
    ],
)
def test_a_request_that_never_left_is_retryable(cause: Exception) -> None:
    outcome = transformers.classify_error(connection_error(cause))

    assert outcome.outcome is Outcome.RETRYABLE


@pytest.mark.parametrize(
    "cause",
    [
        aiohttp.SocketTimeoutError("timed out reading"),
        TimeoutError(),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
        aiohttp.ServerDisconnectedError(),
        TransportError("connection lost"),
        None,
    ],
)
def test_a_request_lost_after_it_left_is_unknown(cause: Exception | None) -> None:
    error = stripe.APIConnectionError("lost")
    error.__cause__ = cause

    assert transformers.classify_error(error).outcome is Outcome.UNKNOWN


def test_a_card_error_is_declined_with_code_and_message() -> None:
    error = api_error(
        402,
        {"type": "card_error", "code": "card_declined", "message": "Your card was declined."},
        {"Stripe-Should-Retry": "false"},
    )

    outcome = transformers.classify_error(error)

    assert isinstance(error, stripe.CardError)
    assert outcome == ProviderAnswer(
        Outcome.DECLINED, failure_code="card_declined", failure_message="Your card was declined."
    )


def test_an_off_session_authentication_decline_requires_action() -> None:
    error = api_error(402, {"type": "card_error", "code": "authentication_required"})

    assert transformers.classify_error(error).outcome is Outcome.REQUIRES_ACTION


def test_the_customer_is_handed_the_client_secret_or_stripes_redirect() -> None:
    """Whichever Stripe gives: a redirect when the intent has one, else its client secret."""
    refused = {
        "type": "card_error",
        "code": "authentication_required",
        "payment_intent": {"id": "pi_1", "client_secret": "pi_1_secret_x", "next_action": None},
    }
    redirect = {"type": "redirect_to_url", "redirect_to_url": {"url": "https://bank.test/3ds"}}

    from_402 = transformers.classify_error(api_error(402, refused))
    from_intent = transformers.outcome_of_intent(
        intent("requires_action", client_secret="pi_1_secret_x", next_action=redirect)
    )

    assert from_402.next_action == NextAction(USE_STRIPE_SDK, client_secret="pi_1_secret_x")
    assert from_intent.next_action == NextAction(
        REDIRECT_TO_URL, redirect_url="https://bank.test/3ds"
    )


def test_a_rate_limit_is_rate_limited_for_the_advertised_delay() -> None:
    error = api_error(429, {"type": "invalid_request_error"}, {"Retry-After": "2"})

    outcome = transformers.classify_error(error)

    assert (outcome.outcome, outcome.retry_after_s) == (Outcome.RATE_LIMITED, 2.0)


def test_the_legacy_rate_limit_code_is_rate_limited() -> None:
    error = api_error(400, {"type": "invalid_request_error", "code": "rate_limit"})

    assert transformers.classify_error(error).outcome is Outcome.RATE_LIMITED


def test_an_idempotent_request_in_flight_is_retryable() -> None:
    error = api_error(409, {"type": "idempotency_error", "message": "another in-progress request"})

    assert transformers.classify_error(error).outcome is Outcome.RETRYABLE


@pytest.mark.parametrize("status", [401, 403])
def test_an_auth_failure_waits_for_an_operator(status: int) -> None:
    error = api_error(status, {"type": "invalid_request_error", "message": "Invalid API Key"})

    outcome = transformers.classify_error(error)

    assert outcome.outcome is Outcome.RETRYABLE
    assert outcome.retry_after_s == transformers.AUTH_FAILURE_RETRY_AFTER_S


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Stripe-Should-Retry": "true"}, Outcome.RETRYABLE),
        ({"stripe-should-retry": "true"}, Outcome.RETRYABLE),
        ({"Stripe-Should-Retry": "false"}, Outcome.UNKNOWN),
        ({}, Outcome.UNKNOWN),
    ],
)
def test_a_server_error_honours_should_retry_and_is_otherwise_ambiguous(
    headers: dict[str, str], expected: Outcome
) -> None:
    error = api_error(500, {"type": "api_error", "message": "boom"}, headers)

    assert transformers.classify_error(error).outcome is expected


def test_a_server_error_without_a_json_body_is_unknown() -> None:
    error = stripe.APIError("Invalid response body from API: <html>", "<html>", 502)

    assert transformers.classify_error(error).outcome is Outcome.UNKNOWN


def test_an_invalid_request_is_declined_with_stripes_code() -> None:
    error = api_error(
        400,
        {"type": "invalid_request_error", "code": "amount_too_small", "message": "too small"},
    )

    outcome = transformers.classify_error(error)

    assert (outcome.outcome, outcome.failure_code) == (Outcome.DECLINED, "amount_too_small")


def test_an_invalid_request_without_a_code_is_invalid_request() -> None:
    error = api_error(404, {"type": "invalid_request_error", "message": "No such thing"})

    assert transformers.classify_error(error).failure_code == "invalid_request"


def test_a_reused_key_with_other_parameters_is_unknown() -> None:
    error = api_error(400, {"type": "idempotency_error", "message": "Keys for idempotent requests"})

    assert isinstance(error, stripe.IdempotencyError)
    assert transformers.classify_error(error).outcome is Outcome.UNKNOWN


def test_confirming_an_intent_that_already_succeeded_is_a_success() -> None:
    error = api_error(
        400,
        {
            "type": "invalid_request_error",
            "code": "payment_intent_unexpected_state",
            "payment_intent": intent("succeeded"),
        },
    )

    outcome = transformers.classify_error(error)

    assert (outcome.outcome, outcome.provider_reference) == (Outcome.SUCCEEDED, "pi_1")


def test_an_unexpected_state_without_the_intent_is_declined() -> None:
    error = api_error(
        400, {"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}
    )

    assert transformers.classify_error(error).outcome is Outcome.DECLINED


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after": "0"}, 0.0),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_seconds_only(headers: dict[str, str], expected: float | None) -> None:
    assert transformers.retry_after_s(headers) == expected


@pytest.mark.parametrize("lookup_only", [Outcome.PENDING, Outcome.NOT_ATTEMPTED])
def test_charge_turns_lookup_only_outcomes_into_unknown(lookup_only: Outcome) -> None:
    outcome = transformers.as_charge_answer(ProviderAnswer(lookup_only, provider_reference="pi_1"))

    assert (outcome.outcome, outcome.provider_reference) == (Outcome.UNKNOWN, "pi_1")


@pytest.mark.parametrize(
    "final",
    [
        Outcome.SUCCEEDED,
        Outcome.DECLINED,
        Outcome.REQUIRES_ACTION,
        Outcome.RETRYABLE,
        Outcome.UNKNOWN,
    ],
)
def test_charge_keeps_its_own_outcomes(final: Outcome) -> None:
    outcome = ProviderAnswer(final, provider_reference="pi_1")

    assert transformers.as_charge_answer(outcome) is outcome


def test_a_refused_lookup_is_never_a_decline() -> None:
    refused = ProviderAnswer(Outcome.DECLINED, failure_code="resource_missing")

    assert transformers.as_lookup_failure(refused).outcome is Outcome.UNKNOWN
    retryable = ProviderAnswer(Outcome.RETRYABLE, retry_after_s=1.0)
    assert transformers.as_lookup_failure(retryable) is retryable


def test_an_intent_for_another_payment_raises() -> None:
    own = intent("succeeded", metadata={"payment_id": "pay_00test"}, amount=1999, currency="usd")

    assert transformers.checked_intent(own, REQUEST) is own
    with pytest.raises(RuntimeError, match="another payment"):
        transformers.checked_intent({**own, "metadata": {"payment_id": "pay_other"}}, REQUEST)
    with pytest.raises(RuntimeError, match="another amount"):
        transformers.checked_intent({**own, "amount": 1}, REQUEST)
    with pytest.raises(RuntimeError, match="another currency"):
        transformers.checked_intent({**own, "currency": "eur"}, REQUEST)


def test_messages_never_carry_the_payment_method() -> None:
    quoting = ProviderAnswer(
        Outcome.DECLINED, failure_message="No such PaymentMethod: 'pm_card_visa'"
    )

    redacted = transformers.without_payment_method(quoting, "pm_card_visa")

    assert redacted.failure_message == "No such PaymentMethod: '[payment method]'"
    silent = ProviderAnswer(Outcome.DECLINED)
    assert transformers.without_payment_method(silent, "pm_card_visa") is silent
    assert transformers.without_payment_method(quoting, "") is quoting


REFUND = RefundRequest(
    refund_id="re_00test",
    payment_id="pay_00test",
    provider_reference="pi_123",
    amount=500,
    currency="usd",
)


def stripe_refund(**changes: Any) -> dict[str, Any]:
    refund = {
        "id": "re_stripe1",
        "object": "refund",
        "amount": 500,
        "currency": "usd",
        "payment_intent": "pi_123",
        "metadata": {"refund_id": "re_00test", "payment_id": "pay_00test"},
        "status": "succeeded",
    }
    return refund | changes


def test_refund_params_carry_our_ids_and_the_refund_id_is_the_key() -> None:
    assert transformers.refund_params(REFUND) == {
        "payment_intent": "pi_123",
        "amount": 500,
        "metadata": {"refund_id": "re_00test", "payment_id": "pay_00test"},
    }
    assert transformers.refund_idempotency_key(REFUND) == "re_00test"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("succeeded", Outcome.SUCCEEDED),
        ("pending", Outcome.PENDING),
        ("requires_action", Outcome.PENDING),
        ("failed", Outcome.DECLINED),
        ("canceled", Outcome.DECLINED),
        ("mystery", Outcome.UNKNOWN),
    ],
)
def test_every_refund_status_maps_to_one_outcome(status: str, expected: Outcome) -> None:
    outcome = transformers.outcome_of_refund(stripe_refund(status=status))

    assert (outcome.outcome, outcome.provider_reference) == (expected, "re_stripe1")


def test_a_failed_refund_carries_its_reason() -> None:
    outcome = transformers.outcome_of_refund(
        stripe_refund(status="failed", failure_reason="expired_or_canceled_card")
    )

    assert (outcome.failure_code, outcome.failure_message) == (
        "refund_failed",
        "expired_or_canceled_card",
    )


@pytest.mark.parametrize(
    "change",
    [
        {"metadata": {"refund_id": "re_other"}},
        {"payment_intent": "pi_other"},
        {"amount": 501},
        {"currency": "eur"},
    ],
)
def test_a_refund_answering_for_something_else_raises(change: dict[str, Any]) -> None:
    with pytest.raises(RuntimeError):
        transformers.checked_refund(stripe_refund(**change), REFUND)


def test_a_refused_refund_is_declined_with_stripes_code() -> None:
    error = api_error(400, {"type": "invalid_request_error", "code": "charge_already_refunded"})

    outcome = transformers.as_refund_failure(transformers.classify_error(error))

    assert (outcome.outcome, outcome.failure_code) == (Outcome.DECLINED, "charge_already_refunded")


@pytest.mark.parametrize(
    "answer", [Outcome.SUCCEEDED, Outcome.PENDING, Outcome.NOT_ATTEMPTED, Outcome.REQUIRES_ACTION]
)
def test_a_failed_refund_call_is_never_a_success(answer: Outcome) -> None:
    outcome = ProviderAnswer(answer, provider_reference="pi_123")

    failure = transformers.as_refund_failure(outcome)

    assert (failure.outcome, failure.provider_reference) == (Outcome.UNKNOWN, None)
