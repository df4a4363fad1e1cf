"""Paystack's face on the wire: charge, duplicate references, verify, refund, faults."""

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

Charges = Callable[[], list[dict[str, Any]]]

#: A hung answer outlasts the client's timeout many times over, yet keeps the test short.
HANG_MS = 2_000
CLIENT_TIMEOUT_SHORT_S = 0.3
BURST_S = 0.6
RATE_LIMITED = {"status": False, "message": "Rate limit exceeded", "code": "rate_limited"}


def charge_body(reference: str, authorization_code: str = "AUTH_success") -> dict[str, Any]:
    return {
        "email": "ada@example.com",
        "amount": 500_000,
        "authorization_code": authorization_code,
        "reference": reference,
        "currency": "NGN",
        "metadata": {"merchant_id": "mer_1"},
    }


def charge(api: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return api.post("/transaction/charge_authorization", json=body)


def test_success_moves_money_once(api: httpx.Client, charges: Charges) -> None:
    response = charge(api, charge_body("pay-a"))

    assert response.status_code == 200
    envelope = response.json()
    assert envelope["status"] is True and envelope["message"] == "Charge attempted"
    data = envelope["data"]
    assert data["status"] == "success" and data["gateway_response"] == "Approved"
    assert (data["reference"], data["amount"], data["currency"]) == ("pay-a", 500_000, "NGN")
    assert (data["domain"], data["channel"]) == ("test", "card")
    assert isinstance(data["id"], int) and data["fees"] == 17_500
    assert data["transaction_date"].endswith("Z")
    assert charges() == [
        {
            "provider": "paystack",
            "payment_id": "pay-a",
            "amount": 500_000,
            "currency": "ngn",
            "provider_reference": "pay-a",
            "reference": "pay-a",
        }
    ]


def test_a_charge_lists_the_reference_as_sent_and_the_payment_id_in_its_metadata(
    api: httpx.Client, charges: Charges
) -> None:
    body = charge_body("pay-00mapped")
    body["metadata"] = {"payment_id": "pay_00mapped"}

    assert charge(api, body).status_code == 200

    [entry] = charges()
    assert (entry["payment_id"], entry["reference"]) == ("pay_00mapped", "pay-00mapped")


def test_declined_is_a_200_with_a_failed_transaction(api: httpx.Client, charges: Charges) -> None:
    response = charge(api, charge_body("pay-b", "AUTH_declined"))

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["status"], data["gateway_response"], data["fees"]) == ("failed", "Declined", 0)
    assert charges() == []


def test_duplicate_reference_is_refused_without_moving_money(
    api: httpx.Client, charges: Charges
) -> None:
    charge(api, charge_body("pay-c"))

    duplicate = charge(api, charge_body("pay-c"))

    assert duplicate.status_code == 400
    assert duplicate.json() == {"status": False, "message": "Duplicate Transaction Reference"}
    assert len(charges()) == 1


def test_a_declined_reference_is_spent_too(api: httpx.Client, charges: Charges) -> None:
    charge(api, charge_body("pay-d", "AUTH_declined"))

    retried = charge(api, charge_body("pay-d"))

    assert retried.status_code == 400
    assert charges() == []


def test_verify_reports_the_transaction(api: httpx.Client) -> None:
    charged = charge(api, charge_body("pay-e")).json()["data"]
    charge(api, charge_body("pay-f", "AUTH_declined"))

    verified = api.get("/transaction/verify/pay-e")
    declined = api.get("/transaction/verify/pay-f")

    assert verified.status_code == declined.status_code == 200
    assert verified.json()["message"] == "Verification successful"
    assert verified.json()["data"] == charged
    assert declined.json()["data"]["status"] == "failed"


def test_verify_of_an_unknown_reference_is_a_400(api: httpx.Client) -> None:
    response = api.get("/transaction/verify/pay-never")

    assert response.status_code == 400
    assert response.json() == {"status": False, "message": "Transaction reference not found"}


@pytest.mark.parametrize(
    "change",
    [
        {"email": None},
        {"amount": None},
        {"authorization_code": None},
        {"amount": 0},
        {"amount": "12.50"},
        {"email": "not-an-email"},
        {"reference": "pay g"},
        {"reference": "pay_g"},
        {"currency": "EUR"},
        {"authorization_code": "AUTH_unknown"},
    ],
)
def test_bad_requests_are_refused(
    api: httpx.Client, charges: Charges, change: dict[str, Any]
) -> None:
    merged = {**charge_body("pay-g"), **change}
    body = {key: value for key, value in merged.items() if value is not None}

    response = charge(api, body)

    assert response.status_code == 400
    assert response.json()["status"] is False
    assert charges() == []


def test_amount_as_digits_and_a_generated_reference_are_accepted(api: httpx.Client) -> None:
    body = {**charge_body("unused"), "amount": "2500"}
    del body["reference"]

    data = charge(api, body).json()["data"]

    assert data["amount"] == 2500
    assert data["reference"].startswith("T")


def test_refund_by_reference_and_by_id(sim: httpx.Client, api: httpx.Client) -> None:
    transaction = charge(api, charge_body("pay-h")).json()["data"]

    partial = api.post("/refund", json={"transaction": "pay-h", "amount": 100_000})
    over = api.post("/refund", json={"transaction": transaction["id"], "amount": 400_001})
    rest = api.post("/refund", json={"transaction": str(transaction["id"])})
    fetched = api.get(f"/refund/{rest.json()['data']['id']}")

    assert partial.status_code == rest.status_code == fetched.status_code == 200
    assert partial.json()["message"] == "Refund has been queued for processing"
    data = rest.json()["data"]
    assert (data["amount"], data["status"], data["currency"]) == (400_000, "pending", "NGN")
    assert data["transaction"]["reference"] == "pay-h"
    assert fetched.json()["data"]["amount"] == 400_000
    assert over.status_code == 400 and over.json()["status"] is False
    refunds = sim.get("/_sim/refunds").json()["refunds"]
    assert [refund["amount"] for refund in refunds] == [100_000, 400_000]


@pytest.mark.parametrize(
    "reference",
    ["pay-declined", "pay-unknown"],
)
def test_refund_without_a_successful_charge_is_refused(api: httpx.Client, reference: str) -> None:
    charge(api, charge_body("pay-declined", "AUTH_declined"))

    response = api.post("/refund", json={"transaction": reference})

    assert response.status_code == 400
    assert response.json()["status"] is False


def test_fail_after_charges_then_answers_500(
    sim: httpx.Client, api: httpx.Client, charges: Charges
) -> None:
    sim.post("/_sim/config", json={"fail_after_rate": 1}).raise_for_status()

    response = charge(api, charge_body("pay-i"))

    assert response.status_code == 500
    assert response.json()["status"] is False
    assert [entry["payment_id"] for entry in charges()] == ["pay-i"]
    assert api.get("/transaction/verify/pay-i").json()["data"]["status"] == "success"


def test_fail_before_answers_500_and_changes_nothing(
    sim: httpx.Client, api: httpx.Client, charges: Charges
) -> None:
    sim.post("/_sim/config", json={"fail_before_rate": 1}).raise_for_status()

    response = charge(api, charge_body("pay-j"))

    assert response.status_code == 500
    assert charges() == []
    assert api.get("/transaction/verify/pay-j").status_code == 400
    sim.post("/_sim/config", json={"fail_before_rate": 0}).raise_for_status()
    assert charge(api, charge_body("pay-j")).status_code == 200


def test_rate_limit_answers_429_and_changes_nothing(
    sim: httpx.Client, api: httpx.Client, charges: Charges
) -> None:
    sim.post("/_sim/config", json={"rate_limit_rate": 1}).raise_for_status()

    response = charge(api, charge_body("pay-k"))

    assert response.status_code == 429
    assert response.json() == RATE_LIMITED
    assert response.headers["Retry-After"] == "1"
    assert charges() == []


def test_hang_after_charges_and_outlasts_the_client_timeout(
    sim: httpx.Client, api: httpx.Client, charges: Charges
) -> None:
    sim.post("/_sim/config", json={"hang_after_rate": 1, "hang_ms": HANG_MS}).raise_for_status()

    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        api.post(
            "/transaction/charge_authorization",
            json=charge_body("pay-hang"),
            timeout=CLIENT_TIMEOUT_SHORT_S,
        )
    charged = charges()
    verified = api.get("/transaction/verify/pay-hang")
    retried = charge(api, charge_body("pay-hang"))
    elapsed_s = time.monotonic() - started

    assert [entry["payment_id"] for entry in charged] == ["pay-hang"]
    assert verified.json()["data"]["status"] == "success"
    assert retried.status_code == 400
    assert retried.json()["message"] == "Duplicate Transaction Reference"
    # Other requests were served while the charge hung.
    assert elapsed_s < HANG_MS / 1000


def test_a_burst_answers_429_for_its_window_then_stops(
    sim: httpx.Client, api: httpx.Client, charges: Charges
) -> None:
    started = time.monotonic()
    sim.post("/_sim/config", json={"rate_limit_burst_s": BURST_S}).raise_for_status()
    limited = [charge(api, charge_body("pay-burst")) for _ in range(3)]
    verified = api.get("/transaction/verify/pay-burst")
    time.sleep(max(0.0, started + BURST_S - time.monotonic()) + 0.05)
    after = charge(api, charge_body("pay-burst"))

    assert [response.status_code for response in limited] == [429] * 3
    assert [response.json() for response in limited] == [RATE_LIMITED] * 3
    assert limited[0].headers["Retry-After"] == "1"
    assert verified.status_code == 400
    assert after.status_code == 200
    assert [entry["payment_id"] for entry in charges()] == ["pay-burst"]


def test_a_rule_applies_to_its_authorization_only(
    sim: httpx.Client, api: httpx.Client, charges: Charges
) -> None:
    rules = {"AUTH_declined": {"rate_limit_rate": 1}, "AUTH_success": {"fail_after_rate": 1}}
    sim.post("/_sim/config", json={"rules": rules}).raise_for_status()

    declined = charge(api, charge_body("pay-rule-a", "AUTH_declined"))
    succeeded = charge(api, charge_body("pay-rule-b"))
    unknown = charge(api, charge_body("pay-rule-d", "AUTH_unknown"))
    sim.post("/_sim/config", json={"rules": {}}).raise_for_status()
    unruled = charge(api, charge_body("pay-rule-c"))

    assert declined.status_code == 429
    assert succeeded.status_code == 500
    assert unknown.json()["message"] == "Invalid authorization code"
    assert unruled.status_code == 200
    assert [entry["payment_id"] for entry in charges()] == ["pay-rule-b", "pay-rule-c"]


@pytest.mark.parametrize("authorization", [None, "Bearer pk_test_public", "Basic sk_test_x"])
def test_missing_or_malformed_key_answers_401(sim: httpx.Client, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    charged = sim.post(
        "/transaction/charge_authorization", json=charge_body("pay-l"), headers=headers
    )
    verified = sim.get("/transaction/verify/pay-l", headers=headers)
    refunded = sim.post("/refund", json={"transaction": "pay-l"}, headers=headers)

    assert charged.status_code == verified.status_code == refunded.status_code == 401
    assert charged.json()["status"] is False


def test_unknown_paystack_route_answers_paystack_json(api: httpx.Client) -> None:
    response = api.get("/transaction/list")

    assert response.status_code == 404
    assert response.json()["status"] is False
