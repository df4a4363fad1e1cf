"""Paystack's wire vocabulary mapped to our outcomes: pure functions, no network."""

import re
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.providers.base import ChargeRequest, Outcome, ProviderAnswer, RefundRequest
from app.providers.paystack import transformers
from app.queue.keys import PARTITIONS_MAX, PAYMENT_ID_PREFIX, new_id
from tests.app.providers.conftest import refused_connection

#: Paystack's documented rule for a reference: letters, digits, "-", "." and "=" only.
PAYSTACK_REFERENCE = re.compile(r"[A-Za-z0-9\-.=]+")

REFERENCE = "pay-00test"
REQUEST = ChargeRequest(
    payment_id="pay_00test",
    merchant_id="mer_1",
    amount=50_000,
    currency="ngn",
    payment_method="AUTH_success",
    customer_email="ada@example.com",
)


def transaction(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "reference": REFERENCE,
        "amount": 50_000,
        "currency": "NGN",
        "status": status,
        **fields,
    }


@given(partition=st.integers(0, PARTITIONS_MAX - 1))
def test_a_payment_id_maps_to_a_valid_reference_and_back(partition: int) -> None:
    payment_id = new_id(PAYMENT_ID_PREFIX, partition)

    reference = transformers.reference_of(payment_id)

    assert PAYSTACK_REFERENCE.fullmatch(reference), reference
    assert transformers.payment_id_of(reference) == payment_id
    assert transformers.reference_of(reference) == reference


def test_charge_body_uses_our_reference_and_paystack_conventions() -> None:
    assert transformers.charge_body(REQUEST, REFERENCE) == {
        "email": "ada@example.com",
        "amount": 50_000,
        "authorization_code": "AUTH_success",
        "reference": REFERENCE,
        "currency": "NGN",
        "metadata": {"payment_id": "pay_00test", "merchant_id": "mer_1"},
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"status": false, "message": "x"}', {"status": False, "message": "x"}),
        (b"<html>502 Bad Gateway</html>", {}),
        (b"[1, 2]", {}),
        (b"", {}),
    ],
)
def test_parse_envelope_tolerates_anything(content: bytes, expected: dict[str, Any]) -> None:
    assert transformers.parse_envelope(content) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("success", Outcome.SUCCEEDED),
        ("failed", Outcome.DECLINED),
        ("reversed", Outcome.DECLINED),
        ("abandoned", Outcome.DECLINED),
        ("send_pin", Outcome.REQUIRES_ACTION),
        ("send_otp", Outcome.REQUIRES_ACTION),
        ("send_phone", Outcome.REQUIRES_ACTION),
        ("send_birthday", Outcome.REQUIRES_ACTION),
        ("send_address", Outcome.REQUIRES_ACTION),
        ("open_url", Outcome.REQUIRES_ACTION),
        ("pay_offline", Outcome.REQUIRES_ACTION),
        ("paused", Outcome.REQUIRES_ACTION),
        ("pending", Outcome.PENDING),
        ("ongoing", Outcome.PENDING),
        ("processing", Outcome.PENDING),
        ("queued", Outcome.PENDING),
        ("something_new", Outcome.UNKNOWN),
        (None, Outcome.UNKNOWN),
    ],
)
def test_every_transaction_status_maps_to_one_outcome(status: str, expected: Outcome) -> None:
    outcome = transformers.outcome_of_transaction(transaction(status))

    assert outcome.outcome is expected
    assert outcome.provider_reference == REFERENCE


def test_a_paused_transaction_requires_action_whatever_its_status() -> None:
    outcome = transformers.outcome_of_transaction(transaction("pending", paused=True))

    assert outcome.outcome is Outcome.REQUIRES_ACTION


def test_a_success_carries_its_reference() -> None:
    outcome = transformers.outcome_of_transaction(transaction("success", fees=750))

    assert outcome == ProviderAnswer(Outcome.SUCCEEDED, REFERENCE)


def test_a_failed_transaction_is_declined_with_a_normalised_code() -> None:
    outcome = transformers.outcome_of_transaction(
        transaction("failed", gateway_response="Insufficient Funds")
    )

    assert outcome == ProviderAnswer(
        Outcome.DECLINED, REFERENCE, "insufficient_funds", "Insufficient Funds"
    )


def test_an_abandoned_transaction_is_final() -> None:
    outcome = transformers.outcome_of_transaction(transaction("abandoned"))

    assert (outcome.outcome, outcome.failure_code) == (Outcome.DECLINED, "abandoned")


@pytest.mark.parametrize(
    ("gateway_response", "expected"),
    [
        ("Declined", "card_declined"),
        ("DECLINED.", "card_declined"),
        ("", "card_declined"),
        (None, "card_declined"),
        ("Insufficient Funds", "insufficient_funds"),
        ("Do Not Honor (05)", "do_not_honor_05"),
        ("x" * 200, "x" * transformers.FAILURE_CODE_CHARS_MAX),
    ],
)
def test_failure_code_is_a_stable_snake_case_code(gateway_response: object, expected: str) -> None:
    assert transformers.failure_code(gateway_response) == expected


def test_a_200_transaction_answer_is_checked_and_mapped() -> None:
    envelope = {"status": True, "message": "Charge attempted", "data": transaction("success")}

    answer = transformers.transaction_answer(envelope, REQUEST, REFERENCE)

    assert answer.outcome is Outcome.SUCCEEDED


@pytest.mark.parametrize(
    "envelope",
    [
        {},
        {"status": False, "message": "odd", "data": transaction("success")},
        {"status": True, "data": None},
        {"status": True, "data": "success"},
    ],
)
def test_an_unreadable_200_is_unknown(envelope: dict[str, Any]) -> None:
    assert transformers.transaction_answer(envelope, REQUEST, REFERENCE).outcome is Outcome.UNKNOWN


def test_a_transaction_for_another_payment_raises() -> None:
    own = transaction("success")

    assert transformers.checked_transaction(own, REQUEST, REFERENCE) is own
    with pytest.raises(RuntimeError, match="another payment"):
        transformers.checked_transaction({**own, "reference": "pay-other"}, REQUEST, REFERENCE)
    with pytest.raises(RuntimeError, match="another amount"):
        transformers.checked_transaction({**own, "amount": 1}, REQUEST, REFERENCE)
    with pytest.raises(RuntimeError, match="another currency"):
        transformers.checked_transaction({**own, "currency": "GHS"}, REQUEST, REFERENCE)


@pytest.mark.parametrize(
    ("status_code", "headers", "envelope", "expected"),
    [
        (401, {}, {"status": False, "message": "Invalid key"}, Outcome.RETRYABLE),
        (403, {}, {"status": False, "message": "Forbidden"}, Outcome.RETRYABLE),
        (429, {"Retry-After": "3"}, {"code": "rate_limited"}, Outcome.RATE_LIMITED),
        (400, {}, {"status": False, "message": "Invalid amount"}, Outcome.DECLINED),
        (404, {}, {"status": False, "message": "Not found"}, Outcome.DECLINED),
        (500, {}, {"status": False, "message": "Server error"}, Outcome.UNKNOWN),
        (502, {}, {}, Outcome.UNKNOWN),
        (503, {"Retry-After": "3"}, {}, Outcome.UNKNOWN),
        (302, {}, {}, Outcome.UNKNOWN),
    ],
)
def test_failure_classification(
    status_code: int, headers: dict[str, str], envelope: dict[str, Any], expected: Outcome
) -> None:
    assert transformers.classify_failure(status_code, headers, envelope).outcome is expected


def test_a_rate_limit_carries_its_delay_and_an_auth_failure_a_long_one() -> None:
    limited = transformers.classify_failure(429, {"Retry-After": "3"}, {})
    refused = transformers.classify_failure(401, {}, {"message": "Invalid key"})

    assert limited.retry_after_s == 3.0
    assert refused.retry_after_s == transformers.AUTH_FAILURE_RETRY_AFTER_S


def test_a_refused_request_is_declined_with_paystacks_code_when_given() -> None:
    envelope = {"status": False, "message": "Invalid authorization", "code": "invalid_params"}

    outcome = transformers.classify_failure(400, {}, envelope)

    assert outcome == ProviderAnswer(
        Outcome.DECLINED, failure_code="invalid_params", failure_message="Invalid authorization"
    )
    assert transformers.classify_failure(400, {}, {}).failure_code == "invalid_request"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (refused_connection(), Outcome.RETRYABLE),
        (
            aiohttp.ConnectionTimeoutError("no connection within the connect timeout"),
            Outcome.RETRYABLE,
        ),
        (aiohttp.SocketTimeoutError("timed out reading"), Outcome.UNKNOWN),
        (TimeoutError(), Outcome.UNKNOWN),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), Outcome.UNKNOWN),
        (aiohttp.ServerDisconnectedError(), Outcome.UNKNOWN),
        (aiohttp.ClientPayloadError("bad gzip"), Outcome.UNKNOWN),
    ],
)
def test_transport_errors_are_retryable_only_before_sending(
    error: Exception, expected: Outcome
) -> None:
    assert transformers.classify_transport_error(error).outcome is expected


def test_duplicate_reference_and_not_found_are_recognised() -> None:
    duplicate = {"status": False, "message": "Duplicate Transaction Reference"}
    not_found = {"status": False, "message": "Transaction reference not found"}

    assert transformers.is_duplicate_reference(400, duplicate)
    assert not transformers.is_duplicate_reference(500, duplicate)
    assert not transformers.is_duplicate_reference(400, not_found)
    assert transformers.is_reference_not_found(400, not_found)
    assert transformers.is_reference_not_found(404, not_found)
    assert not transformers.is_reference_not_found(500, not_found)
    assert not transformers.is_reference_not_found(400, duplicate)


@pytest.mark.parametrize("lookup_only", [Outcome.PENDING, Outcome.NOT_ATTEMPTED])
def test_charge_turns_lookup_only_outcomes_into_unknown(lookup_only: Outcome) -> None:
    outcome = transformers.as_charge_answer(ProviderAnswer(lookup_only, "pay_00test"))

    assert (outcome.outcome, outcome.provider_reference) == (Outcome.UNKNOWN, "pay_00test")


def test_charge_keeps_its_own_outcomes() -> None:
    for final in (Outcome.SUCCEEDED, Outcome.DECLINED, Outcome.REQUIRES_ACTION, Outcome.UNKNOWN):
        outcome = ProviderAnswer(final)
        assert transformers.as_charge_answer(outcome) is outcome


def test_a_refused_verify_is_never_a_decline() -> None:
    refused = ProviderAnswer(Outcome.DECLINED, failure_code="invalid_request")

    assert transformers.as_lookup_failure(refused).outcome is Outcome.UNKNOWN
    unknown = ProviderAnswer(Outcome.UNKNOWN)
    assert transformers.as_lookup_failure(unknown) is unknown


REFUND = RefundRequest(
    refund_id="re_00test",
    payment_id="pay_00test",
    provider_reference="pay_00test",
    amount=5000,
    currency="ngn",
)


def paystack_refund(**changes: Any) -> dict[str, Any]:
    refund = {
        "id": 3000001,
        "amount": 5000,
        "currency": "NGN",
        "status": "pending",
        "transaction": {"id": 1, "reference": REFERENCE, "amount": 10000},
    }
    return refund | changes


def test_refund_body_names_the_transaction_by_our_reference() -> None:
    """Even when the payment's record keeps the reference an earlier version stored verbatim."""
    assert transformers.refund_body(REFUND) == {"transaction": REFERENCE, "amount": 5000}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", Outcome.SUCCEEDED),
        ("processing", Outcome.SUCCEEDED),
        ("processed", Outcome.SUCCEEDED),
        ("needs-attention", Outcome.PENDING),
        ("failed", Outcome.DECLINED),
        ("mystery", Outcome.UNKNOWN),
    ],
)
def test_every_refund_status_maps_to_one_outcome(status: str, expected: Outcome) -> None:
    outcome = transformers.outcome_of_refund(paystack_refund(status=status))

    assert (outcome.outcome, outcome.provider_reference) == (expected, "3000001")


def test_a_200_refund_answer_is_checked_and_mapped() -> None:
    envelope = {"status": True, "message": "Refund has been queued", "data": paystack_refund()}

    outcome = transformers.refund_answer(envelope, REFUND)

    assert (outcome.outcome, outcome.provider_reference) == (Outcome.SUCCEEDED, "3000001")
    unreadable = transformers.refund_answer({"status": False}, REFUND)
    assert unreadable.outcome is Outcome.UNKNOWN


@pytest.mark.parametrize(
    "change",
    [
        {"transaction": {"reference": "pay_other"}},
        {"transaction": None},
        {"amount": 5001},
        {"currency": "GHS"},
    ],
)
def test_a_refund_answering_for_something_else_raises(change: dict[str, Any]) -> None:
    with pytest.raises(RuntimeError):
        transformers.checked_refund(paystack_refund(**change), REFUND)


def test_refund_failures_reuse_the_charge_classification() -> None:
    refused = transformers.classify_failure(400, {}, {"message": "Transaction fully reversed"})
    ambiguous = transformers.classify_failure(502, {}, {})

    assert transformers.as_refund_failure(refused).outcome is Outcome.DECLINED
    assert transformers.as_refund_failure(ambiguous).outcome is Outcome.UNKNOWN


@pytest.mark.parametrize("answer", [Outcome.SUCCEEDED, Outcome.PENDING, Outcome.NOT_ATTEMPTED])
def test_a_failed_refund_call_is_never_a_success(answer: Outcome) -> None:
    outcome = transformers.as_refund_failure(ProviderAnswer(answer))

    assert outcome.outcome is Outcome.UNKNOWN
