"""The simulator's webhooks, received by a real endpoint and checked by the providers' own
verification code: signed as Stripe and Paystack sign, retried, delayed, duplicated, reordered."""

import json
import time

import httpx
import pytest
import stripe
from pypaystack2 import PaystackClient

from app.simulator.webhooks import STRIPE_WEBHOOK_SECRET_DEFAULT
from tests.app.simulator.conftest import API_KEY
from tests.support.receiver import Receiver, receiver

__all__ = ["receiver"]


def card_payment(api: httpx.Client, payment_id: str, method: str = "pm_card_visa") -> str:
    form = {
        "amount": "2500",
        "currency": "usd",
        "payment_method": method,
        "confirm": "true",
        "off_session": "true",
        "metadata[payment_id]": payment_id,
    }
    response = api.post("/v1/payment_intents", data=form)
    return str(response.json().get("id") or response.json()["error"]["payment_intent"]["id"])


def paystack_charge(api: httpx.Client, reference: str) -> None:
    body = {
        "email": "ada@example.com",
        "amount": 500_000,
        "authorization_code": "AUTH_success",
        "reference": reference,
        "currency": "NGN",
    }
    api.post("/transaction/charge_authorization", json=body).raise_for_status()


def stripe_event(body: bytes, signature: str) -> stripe.Event:
    """Through the official SDK, with its default tolerance, as a receiver would."""
    return stripe.Webhook.construct_event(body, signature, STRIPE_WEBHOOK_SECRET_DEFAULT)


def test_stripe_events_are_signed_as_stripe_signs_them(
    sim: httpx.Client, api: httpx.Client, receiver: Receiver
) -> None:
    sim.post("/_sim/config", json={"stripe_webhook_url": receiver.url}).raise_for_status()

    succeeded = card_payment(api, "pay_hook_a")
    declined = card_payment(api, "pay_hook_b", "pm_card_chargeDeclined")

    events = [stripe_event(d.body, d.headers["Stripe-Signature"]) for d in receiver.wait_for(2)]
    by_type = {event.type: event.data.object for event in events}
    assert by_type["payment_intent.succeeded"]["id"] == succeeded
    assert by_type["payment_intent.payment_failed"]["id"] == declined
    assert by_type["payment_intent.succeeded"]["metadata"]["payment_id"] == "pay_hook_a"


def test_a_forged_signature_does_not_verify(
    sim: httpx.Client, api: httpx.Client, receiver: Receiver
) -> None:
    """So the check above could fail: the SDK refuses another secret."""
    sim.post("/_sim/config", json={"stripe_webhook_url": receiver.url}).raise_for_status()
    card_payment(api, "pay_hook_c")
    [delivery] = receiver.wait_for(1)

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            delivery.body, delivery.headers["Stripe-Signature"], "whsec_other"
        )


def test_paystack_events_are_signed_with_the_accounts_secret_key(
    sim: httpx.Client, api: httpx.Client, receiver: Receiver
) -> None:
    sim.post("/_sim/config", json={"paystack_webhook_url": receiver.url}).raise_for_status()

    paystack_charge(api, "pay-hook-d")

    [delivery] = receiver.wait_for(1)
    signature = delivery.headers["x-paystack-signature"]
    # A third party's reading of Paystack's signing rule, not ours.
    assert PaystackClient(secret_key=API_KEY).is_verified_webhook_payload(delivery.body, signature)
    assert not PaystackClient(secret_key="sk_test_other").is_verified_webhook_payload(
        delivery.body, signature
    )
    payload = json.loads(delivery.body)
    assert (payload["event"], payload["data"]["reference"]) == ("charge.success", "pay-hook-d")


def test_a_refused_delivery_is_tried_again(
    sim: httpx.Client, api: httpx.Client, receiver: Receiver
) -> None:
    receiver.refusals = [500, 503]
    sim.post("/_sim/config", json={"stripe_webhook_url": receiver.url}).raise_for_status()

    card_payment(api, "pay_hook_e")

    [delivery] = receiver.wait_for(1)
    assert json.loads(delivery.body)["type"] == "payment_intent.succeeded"


def test_duplicated_deliveries_carry_the_same_event(
    sim: httpx.Client, api: httpx.Client, receiver: Receiver
) -> None:
    changes = {"stripe_webhook_url": receiver.url, "webhook_duplicate_rate": 1}
    sim.post("/_sim/config", json=changes).raise_for_status()

    card_payment(api, "pay_hook_f")

    first, second = receiver.wait_for(2)
    assert json.loads(first.body)["id"] == json.loads(second.body)["id"]


def test_a_reordered_delivery_arrives_after_the_next_one(
    sim: httpx.Client, api: httpx.Client, receiver: Receiver
) -> None:
    changes = {"stripe_webhook_url": receiver.url, "webhook_reorder_rate": 1}
    sim.post("/_sim/config", json=changes).raise_for_status()
    card_payment(api, "pay_hook_g")
    sim.post("/_sim/config", json={"webhook_reorder_rate": 0}).raise_for_status()

    card_payment(api, "pay_hook_h")

    first, second = receiver.wait_for(2)
    order = [
        json.loads(d.body)["data"]["object"]["metadata"]["payment_id"] for d in (first, second)
    ]
    assert order == ["pay_hook_h", "pay_hook_g"]


def test_a_delayed_delivery_waits_its_delay(
    sim: httpx.Client, api: httpx.Client, receiver: Receiver
) -> None:
    changes = {
        "stripe_webhook_url": receiver.url,
        "webhook_delay_rate": 1,
        "webhook_delay_ms": 600,
    }
    sim.post("/_sim/config", json=changes).raise_for_status()
    started = time.monotonic()

    card_payment(api, "pay_hook_i")

    receiver.wait_for(1)
    assert time.monotonic() - started >= 0.6


def test_webhook_settings_are_checked_and_shown(sim: httpx.Client) -> None:
    refused = sim.post("/_sim/config", json={"stripe_webhook_url": "ftp://x", "latency_ms": 5})
    taken = sim.post("/_sim/config", json={"paystack_webhook_url": "http://127.0.0.1:9/hooks"})

    assert refused.status_code == 400
    assert sim.get("/_sim/config").json()["latency_ms"] == 0  # nothing of a refused change
    assert taken.json()["paystack_webhook_url"] == "http://127.0.0.1:9/hooks"
