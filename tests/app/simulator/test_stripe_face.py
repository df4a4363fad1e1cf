"""Stripe's face, through the official SDK and on the wire: outcomes, idempotency, faults."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import stripe
from stripe.params import PaymentIntentCreateParams

Charges = Callable[[], list[dict[str, Any]]]

#: A hung answer outlasts the client's timeout many times over, yet keeps the test short.
HANG_MS = 2_000
CLIENT_TIMEOUT_SHORT_S = 0.3
BURST_S = 0.6


def intent_params(
    payment_id: str,
    payment_method: str = "pm_card_visa",
    *,
    confirm: bool = False,
    amount: int = 2500,
) -> PaymentIntentCreateParams:
    return {
        "amount": amount,
        "currency": "usd",
        "payment_method": payment_method,
        "confirm": confirm,
        "off_session": True,
        "metadata": {"payment_id": payment_id},
    }


def error_of(raised: pytest.ExceptionInfo[stripe.StripeError]) -> dict[str, Any]:
    body = raised.value.json_body
    assert isinstance(body, dict)
    error: dict[str, Any] = body["error"]
    return error


def form(payment_id: str, payment_method: str = "pm_card_visa", **extra: str) -> dict[str, str]:
    return {
        "amount": "2500",
        "currency": "usd",
        "payment_method": payment_method,
        "metadata[payment_id]": payment_id,
        **extra,
    }


def search(client: stripe.StripeClient, payment_id: str) -> list[stripe.PaymentIntent]:
    query = f"metadata['payment_id']:'{payment_id}'"
    return list(client.v1.payment_intents.search(params={"query": query}).data)


def test_sdk_create_and_confirm_moves_money_once(
    stripe_client: stripe.StripeClient, charges: Charges
) -> None:
    created = stripe_client.v1.payment_intents.create(params=intent_params("pay_a"))
    assert created.status == "requires_confirmation"
    assert created.object == "payment_intent" and created.id.startswith("pi_")
    assert charges() == []

    confirmed = stripe_client.v1.payment_intents.confirm(created.id)

    assert confirmed.status == "succeeded"
    assert isinstance(confirmed.latest_charge, str) and confirmed.latest_charge.startswith("ch_")
    assert confirmed.amount_received == 2500
    assert stripe_client.v1.payment_intents.retrieve(created.id).status == "succeeded"
    assert charges() == [
        {
            "provider": "stripe",
            "payment_id": "pay_a",
            "amount": 2500,
            "currency": "usd",
            "provider_reference": created.id,
        }
    ]


def test_sdk_confirm_on_create(stripe_client: stripe.StripeClient, charges: Charges) -> None:
    params = intent_params("pay_b", confirm=True)
    # What a server-side, off-session confirmation typically sends on current API versions.
    params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}

    intent = stripe_client.v1.payment_intents.create(params=params)

    assert intent.status == "succeeded"
    assert [charge["provider_reference"] for charge in charges()] == [intent.id]


@pytest.mark.parametrize(
    ("payment_method", "decline_code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ],
)
def test_sdk_decline_raises_card_error(
    stripe_client: stripe.StripeClient, charges: Charges, payment_method: str, decline_code: str
) -> None:
    params = intent_params("pay_c", payment_method, confirm=True)

    with pytest.raises(stripe.CardError) as raised:
        stripe_client.v1.payment_intents.create(params=params)

    assert raised.value.http_status == 402
    assert raised.value.code == "card_declined"
    error = error_of(raised)
    assert error["type"] == "card_error"
    assert error["decline_code"] == decline_code
    assert error["payment_intent"]["status"] == "requires_payment_method"
    assert error["payment_intent"]["last_payment_error"]["code"] == "card_declined"
    assert charges() == []


def test_sdk_declined_intent_can_be_confirmed_with_another_card(
    stripe_client: stripe.StripeClient, charges: Charges
) -> None:
    created = stripe_client.v1.payment_intents.create(
        params=intent_params("pay_d", "pm_card_chargeDeclined")
    )
    with pytest.raises(stripe.CardError):
        stripe_client.v1.payment_intents.confirm(created.id)

    retried = stripe_client.v1.payment_intents.confirm(
        created.id, params={"payment_method": "pm_card_visa"}
    )

    assert retried.status == "succeeded"
    assert retried.last_payment_error is None
    assert len(charges()) == 1


def test_sdk_authentication_required_off_session_is_a_402_card_error(
    stripe_client: stripe.StripeClient, charges: Charges
) -> None:
    """As Stripe answers a merchant-initiated charge the issuer wants authenticated."""
    params = intent_params("pay_e", "pm_card_authenticationRequired", confirm=True)

    with pytest.raises(stripe.CardError) as raised:
        stripe_client.v1.payment_intents.create(params=params)

    assert raised.value.http_status == 402
    assert raised.value.code == "authentication_required"
    intent = error_of(raised)["payment_intent"]
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["code"] == "authentication_required"
    assert intent["client_secret"].startswith(intent["id"] + "_secret_")
    assert charges() == []


def test_sdk_authentication_required_on_session_needs_action(
    stripe_client: stripe.StripeClient, charges: Charges
) -> None:
    params = intent_params("pay_e2", "pm_card_authenticationRequired", confirm=True)
    params["off_session"] = False

    intent = stripe_client.v1.payment_intents.create(params=params)

    assert intent.status == "requires_action"
    assert intent.next_action is not None and intent.next_action.type == "use_stripe_sdk"
    assert charges() == []


def test_confirm_twice_charges_once(stripe_client: stripe.StripeClient, charges: Charges) -> None:
    created = stripe_client.v1.payment_intents.create(params=intent_params("pay_f"))
    stripe_client.v1.payment_intents.confirm(created.id)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.payment_intents.confirm(created.id)

    assert raised.value.http_status == 400
    assert raised.value.code == "payment_intent_unexpected_state"
    assert error_of(raised)["payment_intent"]["status"] == "succeeded"
    assert len(charges()) == 1


def test_sdk_idempotent_replay_returns_the_same_intent(
    stripe_client: stripe.StripeClient, charges: Charges
) -> None:
    params = intent_params("pay_g", confirm=True)
    options: stripe.RequestOptions = {"idempotency_key": "pay_g"}

    first = stripe_client.v1.payment_intents.create(params=params, options=options)
    second = stripe_client.v1.payment_intents.create(params=params, options=options)

    assert second.id == first.id
    assert second.to_dict() == first.to_dict()
    assert len(charges()) == 1


def test_replay_is_byte_identical_and_marked(api: httpx.Client, charges: Charges) -> None:
    headers = {"Idempotency-Key": "pay_h"}
    body = form("pay_h", confirm="true")

    first = api.post("/v1/payment_intents", data=body, headers=headers)
    second = api.post("/v1/payment_intents", data=body, headers=headers)

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert "idempotent-replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Original-Request"] == first.headers["Request-Id"]
    assert second.headers["Request-Id"] != first.headers["Request-Id"]
    assert len(charges()) == 1


def test_a_decline_is_replayed_too(api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "pay_i"}
    body = form("pay_i", "pm_card_chargeDeclined", confirm="true")

    first = api.post("/v1/payment_intents", data=body, headers=headers)
    second = api.post("/v1/payment_intents", data=body, headers=headers)

    assert first.status_code == second.status_code == 402
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"


def test_sdk_key_reused_with_other_params_is_an_idempotency_error(
    stripe_client: stripe.StripeClient, charges: Charges
) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "pay_j"}
    stripe_client.v1.payment_intents.create(params=intent_params("pay_j"), options=options)

    with pytest.raises(stripe.IdempotencyError) as raised:
        stripe_client.v1.payment_intents.create(
            params=intent_params("pay_j", amount=9999), options=options
        )

    assert raised.value.http_status == 400
    assert error_of(raised)["type"] == "idempotency_error"
    assert charges() == []


def test_key_reused_on_another_endpoint_is_an_idempotency_error(api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "pay_k"}
    created = api.post("/v1/payment_intents", data=form("pay_k"), headers=headers).json()

    reused = api.post(f"/v1/payment_intents/{created['id']}/confirm", headers=headers)

    assert reused.status_code == 400
    assert reused.json()["error"]["type"] == "idempotency_error"
    assert "same endpoint" in reused.json()["error"]["message"]


def test_keys_are_scoped_per_api_key(api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "pay_l"}
    other_key = {**headers, "Authorization": "Bearer sk_test_other_account"}

    first = api.post("/v1/payment_intents", data=form("pay_l"), headers=headers)
    second = api.post("/v1/payment_intents", data=form("pay_l"), headers=other_key)

    assert first.status_code == second.status_code == 200
    assert first.json()["id"] != second.json()["id"]
    assert "idempotent-replayed" not in second.headers


def test_a_refused_request_leaves_its_key_free(api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "pay_m"}

    refused = api.post("/v1/payment_intents", data={"currency": "usd"}, headers=headers)
    accepted = api.post("/v1/payment_intents", data=form("pay_m"), headers=headers)

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "parameter_missing"
    assert accepted.status_code == 200
    assert "idempotent-replayed" not in accepted.headers


def test_a_key_in_flight_answers_409(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post("/_sim/config", json={"latency_ms": 400}).raise_for_status()
    headers = {"Idempotency-Key": "pay_n"}

    def post() -> httpx.Response:
        return api.post("/v1/payment_intents", data=form("pay_n"), headers=headers)

    with ThreadPoolExecutor(max_workers=2) as pool:
        # Both overlap inside the 400 ms latency whichever claims the key first.
        first = pool.submit(post)
        second = pool.submit(post)
        statuses = sorted([first.result().status_code, second.result().status_code])

    assert statuses == [200, 409]
    conflict = first.result() if first.result().status_code == 409 else second.result()
    assert conflict.json()["error"]["type"] == "idempotency_error"


def test_sdk_lookups_fail_for_unknown_objects(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing_intent:
        stripe_client.v1.payment_intents.retrieve("pi_missing")
    with pytest.raises(stripe.InvalidRequestError) as missing_method:
        stripe_client.v1.payment_intents.create(params=intent_params("pay_o", "pm_card_unknown"))

    assert missing_intent.value.http_status == 404
    assert missing_intent.value.code == "resource_missing"
    assert missing_method.value.http_status == 400
    assert missing_method.value.code == "resource_missing"
    assert missing_method.value.param == "payment_method"


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"amount": "2500", "currency": "usd", "colour": "red"}, "parameter_unknown", "colour"),
        ({"amount": "25.00", "currency": "usd"}, "parameter_invalid_integer", "amount"),
        ({"amount": "0", "currency": "usd"}, "amount_too_small", "amount"),
        ({"amount": "2500"}, "parameter_missing", "currency"),
        ({"amount": "2500", "currency": "usd", "confirm": "true"}, "parameter_missing", None),
    ],
)
def test_bad_parameters_are_refused(
    api: httpx.Client, body: dict[str, str], code: str, param: str | None
) -> None:
    response = api.post("/v1/payment_intents", data=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    assert param is None or error["param"] == param


def test_sdk_search_finds_intents_by_payment_id(stripe_client: stripe.StripeClient) -> None:
    created = stripe_client.v1.payment_intents.create(params=intent_params("pay_p"))
    stripe_client.v1.payment_intents.create(params=intent_params("pay_other"))

    found = search(stripe_client, "pay_p")

    assert [intent.id for intent in found] == [created.id]


def test_sdk_refunds_up_to_what_was_received(
    sim: httpx.Client, stripe_client: stripe.StripeClient
) -> None:
    intent = stripe_client.v1.payment_intents.create(params=intent_params("pay_q", confirm=True))

    partial = stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000})
    with pytest.raises(stripe.InvalidRequestError) as over:
        stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 2000})
    rest = stripe_client.v1.refunds.create(params={"payment_intent": intent.id})

    assert partial.object == "refund" and partial.status == "succeeded"
    assert (partial.amount, rest.amount) == (1000, 1500)
    assert rest.payment_intent == intent.id and rest.charge == intent.latest_charge
    assert over.value.code == "amount_too_large"
    assert stripe_client.v1.refunds.retrieve(rest.id).amount == 1500
    refunds = sim.get("/_sim/refunds").json()["refunds"]
    assert [(refund["payment_id"], refund["amount"]) for refund in refunds] == [
        ("pay_q", 1000),
        ("pay_q", 1500),
    ]


def test_sdk_refund_refused_without_a_successful_charge(
    stripe_client: stripe.StripeClient,
) -> None:
    intent = stripe_client.v1.payment_intents.create(params=intent_params("pay_r"))

    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.refunds.create(params={"payment_intent": intent.id})

    assert raised.value.http_status == 400


def test_fail_after_charges_then_answers_500(
    sim: httpx.Client, stripe_client: stripe.StripeClient, charges: Charges
) -> None:
    sim.post("/_sim/config", json={"fail_after_rate": 1}).raise_for_status()
    params = intent_params("pay_s", confirm=True)
    options: stripe.RequestOptions = {"idempotency_key": "pay_s"}

    with pytest.raises(stripe.APIError) as first:
        stripe_client.v1.payment_intents.create(params=params, options=options)
    with pytest.raises(stripe.APIError) as replayed:
        stripe_client.v1.payment_intents.create(params=params, options=options)

    assert first.value.http_status == replayed.value.http_status == 500
    assert first.value.headers is not None
    assert first.value.headers["Stripe-Should-Retry"] == "false"
    assert replayed.value.headers is not None
    assert replayed.value.headers["Idempotent-Replayed"] == "true"
    assert [charge["payment_id"] for charge in charges()] == ["pay_s"]
    assert [intent.status for intent in search(stripe_client, "pay_s")] == ["succeeded"]


def test_fail_after_on_a_plain_create_leaves_the_intent(
    sim: httpx.Client, stripe_client: stripe.StripeClient, charges: Charges
) -> None:
    sim.post("/_sim/config", json={"fail_after_rate": 1}).raise_for_status()

    with pytest.raises(stripe.APIError):
        stripe_client.v1.payment_intents.create(params=intent_params("pay_t"))

    assert [intent.status for intent in search(stripe_client, "pay_t")] == ["requires_confirmation"]
    assert charges() == []


def test_fail_before_changes_nothing_and_keeps_the_key_free(
    sim: httpx.Client, api: httpx.Client, stripe_client: stripe.StripeClient, charges: Charges
) -> None:
    sim.post("/_sim/config", json={"fail_before_rate": 1}).raise_for_status()
    headers = {"Idempotency-Key": "pay_u"}
    body = form("pay_u", confirm="true")

    failed = api.post("/v1/payment_intents", data=body, headers=headers)
    sim.post("/_sim/config", json={"fail_before_rate": 0}).raise_for_status()
    retried = api.post("/v1/payment_intents", data=body, headers=headers)

    assert failed.status_code == 500
    assert failed.json()["error"]["type"] == "api_error"
    assert failed.headers["Stripe-Should-Retry"] == "true"
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers
    assert len(search(stripe_client, "pay_u")) == 1
    assert len(charges()) == 1


def test_rate_limit_answers_429_changes_nothing_and_keeps_the_key_free(
    sim: httpx.Client, stripe_client: stripe.StripeClient, charges: Charges
) -> None:
    sim.post("/_sim/config", json={"rate_limit_rate": 1}).raise_for_status()
    params = intent_params("pay_v", confirm=True)
    options: stripe.RequestOptions = {"idempotency_key": "pay_v"}

    with pytest.raises(stripe.RateLimitError) as raised:
        stripe_client.v1.payment_intents.create(params=params, options=options)
    assert search(stripe_client, "pay_v") == []
    sim.post("/_sim/config", json={"rate_limit_rate": 0}).raise_for_status()
    retried = stripe_client.v1.payment_intents.create(params=params, options=options)

    assert raised.value.http_status == 429
    assert error_of(raised)["type"] == "rate_limit_error"
    assert raised.value.headers is not None
    assert raised.value.headers["Retry-After"] == "1"
    assert retried.status == "succeeded"
    assert [charge["provider_reference"] for charge in charges()] == [retried.id]


def test_hang_after_charges_and_outlasts_the_client_timeout(
    sim: httpx.Client, api: httpx.Client, charges: Charges
) -> None:
    sim.post("/_sim/config", json={"hang_after_rate": 1, "hang_ms": HANG_MS}).raise_for_status()
    headers = {"Idempotency-Key": "pay_hang"}
    body = form("pay_hang", confirm="true")

    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        api.post("/v1/payment_intents", data=body, headers=headers, timeout=CLIENT_TIMEOUT_SHORT_S)
    charged = charges()
    retried = api.post("/v1/payment_intents", data=body, headers=headers)
    elapsed_s = time.monotonic() - started

    assert [charge["payment_id"] for charge in charged] == ["pay_hang"]
    # The answer was stored before it was held back: the retry replays it at once.
    assert retried.status_code == 200
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json()["status"] == "succeeded"
    # Other requests were served while the first one hung.
    assert elapsed_s < HANG_MS / 1000


def test_hang_after_spares_calls_that_change_nothing(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post("/_sim/config", json={"hang_after_rate": 1, "hang_ms": HANG_MS}).raise_for_status()
    timeout_s = CLIENT_TIMEOUT_SHORT_S * 3

    refused = api.post("/v1/payment_intents/pi_missing/confirm", timeout=timeout_s)
    looked_up = api.get("/v1/payment_intents/pi_missing", timeout=timeout_s)

    assert (refused.status_code, looked_up.status_code) == (404, 404)


def test_a_burst_answers_429_for_its_window_then_stops(
    sim: httpx.Client, api: httpx.Client, charges: Charges
) -> None:
    started = time.monotonic()
    sim.post("/_sim/config", json={"rate_limit_burst_s": BURST_S}).raise_for_status()
    limited = [api.post("/v1/payment_intents", data=form("pay_burst")) for _ in range(3)]
    looked_up = api.get("/v1/payment_intents/pi_missing")
    time.sleep(max(0.0, started + BURST_S - time.monotonic()) + 0.05)
    after = api.post("/v1/payment_intents", data=form("pay_burst", confirm="true"))

    assert [response.status_code for response in limited] == [429] * 3
    assert limited[0].headers["Retry-After"] == "1"
    assert limited[0].json()["error"]["type"] == "rate_limit_error"
    assert limited[0].json()["error"]["code"] == "rate_limit"
    assert looked_up.status_code == 404
    assert after.status_code == 200
    assert [charge["payment_id"] for charge in charges()] == ["pay_burst"]


def test_a_rule_applies_to_its_payment_method_only(
    sim: httpx.Client, api: httpx.Client, stripe_client: stripe.StripeClient, charges: Charges
) -> None:
    rules = {"pm_card_mastercard": {"fail_after_rate": 1}}
    sim.post("/_sim/config", json={"rules": rules}).raise_for_status()

    visa = api.post("/v1/payment_intents", data=form("pay_visa", confirm="true"))
    created = api.post("/v1/payment_intents", data=form("pay_mc", "pm_card_mastercard"))
    [intent] = search(stripe_client, "pay_mc")
    # No payment_method in the form: the rule is found through the one the intent holds.
    confirmed = api.post(f"/v1/payment_intents/{intent.id}/confirm")

    assert visa.status_code == 200
    assert created.status_code == confirmed.status_code == 500
    assert confirmed.headers["Stripe-Should-Retry"] == "false"
    assert sorted(charge["payment_id"] for charge in charges()) == ["pay_mc", "pay_visa"]


def test_missing_or_malformed_key_answers_401(api: httpx.Client, sim: httpx.Client) -> None:
    missing = sim.post("/v1/payment_intents", data=form("pay_w"))
    malformed = api.get("/v1/payment_intents/pi_x", headers={"Authorization": "Bearer pk_test"})

    assert missing.status_code == malformed.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert missing.headers["Request-Id"].startswith("req_")


def test_sdk_with_a_bad_key_raises_authentication_error(sim: httpx.Client) -> None:
    http_client = stripe.HTTPXClient(allow_sync_methods=True)
    client = stripe.StripeClient(
        "rk_not_secret",
        base_addresses={"api": str(sim.base_url).rstrip("/")},
        http_client=http_client,
        max_network_retries=0,
    )
    try:
        with pytest.raises(stripe.AuthenticationError):
            client.v1.payment_intents.retrieve("pi_x")
    finally:
        http_client.close()


def test_the_key_is_accepted_as_the_basic_auth_user_as_stripe_does(sim: httpx.Client) -> None:
    """``curl -u sk_test_…:`` is Stripe's own documented way; the face must not be stricter."""
    as_user = sim.post("/v1/payment_intents", data=form("pay_basic"), auth=("sk_test_basic", ""))
    as_password = sim.post("/v1/payment_intents", data=form("pay_basic2"), auth=("", "sk_test_x"))
    garbled = sim.get("/v1/payment_intents/pi_x", headers={"Authorization": "Basic !!!"})

    assert as_user.status_code == 200, as_user.text
    assert as_user.json()["metadata"] == {"payment_id": "pay_basic"}
    assert as_password.status_code == garbled.status_code == 401


def test_unknown_stripe_route_answers_stripe_json(api: httpx.Client) -> None:
    response = api.get("/v1/balance_transactions")

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_sdk_cancel_stops_an_intent_and_refuses_a_succeeded_one(
    stripe_client: stripe.StripeClient, sim: httpx.Client, charges: Charges
) -> None:
    waiting = stripe_client.v1.payment_intents.create(params=intent_params("pay_cancel_a"))
    paid = stripe_client.v1.payment_intents.create(
        params=intent_params("pay_cancel_b", confirm=True)
    )

    canceled = stripe_client.v1.payment_intents.cancel(
        waiting.id, params={"cancellation_reason": "abandoned"}
    )
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.cancel(paid.id)

    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    assert refused.value.code == "payment_intent_unexpected_state"
    assert error_of(refused)["payment_intent"]["status"] == "succeeded"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.payment_intents.confirm(waiting.id)
    assert [charge["payment_id"] for charge in charges()] == ["pay_cancel_b"]


def test_the_customer_completes_authentication_after_an_off_session_refusal(
    stripe_client: stripe.StripeClient, sim: httpx.Client, charges: Charges
) -> None:
    params = intent_params("pay_3ds", "pm_card_authenticationRequired", confirm=True)
    with pytest.raises(stripe.CardError) as refused:
        stripe_client.v1.payment_intents.create(params=params)
    intent_id = error_of(refused)["payment_intent"]["id"]

    bad = sim.post(f"/_sim/payment_intents/{intent_id}/authenticate", json={"succeed": "yes"})
    done = sim.post(f"/_sim/payment_intents/{intent_id}/authenticate", json={"succeed": True})
    again = sim.post(f"/_sim/payment_intents/{intent_id}/authenticate", json={"succeed": True})

    assert (bad.status_code, done.status_code, again.status_code) == (400, 200, 409)
    assert stripe_client.v1.payment_intents.retrieve(intent_id).status == "succeeded"
    assert [charge["payment_id"] for charge in charges()] == ["pay_3ds"]
