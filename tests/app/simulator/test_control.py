"""The simulator's own endpoints: health, the movement lists, live configuration, reset."""

import time

import httpx
import pytest

from tests.support.simulator import FAULT_FREE


def test_health(sim: httpx.Client) -> None:
    response = sim.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_config_reads_back_what_was_set(sim: httpx.Client) -> None:
    changes = {"latency_ms": 5, "latency_jitter_ms": 2, "fail_after_rate": 0.25}

    updated = sim.post("/_sim/config", json=changes)

    assert updated.status_code == 200
    expected = {**FAULT_FREE, **changes, "seed": 7}
    assert updated.json() == expected
    assert sim.get("/_sim/config").json() == expected


def test_every_fault_field_reads_back(sim: httpx.Client) -> None:
    changes = {
        "latency_distribution": "lognormal",
        "latency_ms": 40,
        "latency_p99_ms": 300,
        "hang_after_rate": 0.03,
        "hang_ms": 12_000,
        "rate_limit_burst_s": 0,
        "rules": {"pm_card_visa": {"fail_after_rate": 0.5}, "AUTH_success": {"hang_ms": 100}},
    }

    updated = sim.post("/_sim/config", json=changes)

    assert updated.status_code == 200
    assert sim.get("/_sim/config").json() == {**FAULT_FREE, **changes, "seed": 7}


@pytest.mark.parametrize(
    "changes",
    [
        {"fail_before_rate": 1.5},
        {"rate_limit_rate": -0.1},
        {"fail_after_rate": "half"},
        {"fail_after_rate": True},
        {"latency_ms": -1},
        {"latency_ms": 10_000_000},
        {"seed": 3},
        {"colour": "red"},
        [0.5],
        {"latency_distribution": "gaussian"},
        {"latency_distribution": "lognormal", "latency_ms": 100},
        {"hang_after_rate": 1.5},
        {"hang_ms": 60_001},
        {"rate_limit_burst_s": -1},
        {"rate_limit_burst_s": "soon"},
        {"rules": ["pm_card_visa"]},
        {"rules": {"pm_card_visa": {"colour": "red"}}},
        {"rules": {"pm_card_visa": {"fail_after_rate": "half"}}},
        {"rules": {"pm_card_visa": {"fail_after_rate": 1.5}}},
        {"rules": {"AUTH_success": {"seed": 1}}},
        # Valid fields alongside a bad one: the whole change is refused.
        {"fail_after_rate": 0.5, "rules": {"pm_card_visa": {"hang_ms": -1}}},
        {"rate_limit_burst_s": 30, "hang_ms": "long"},
    ],
)
def test_bad_config_is_refused_and_changes_nothing(sim: httpx.Client, changes: object) -> None:
    before = sim.get("/_sim/config").json()

    response = sim.post("/_sim/config", json=changes)

    assert response.status_code == 400
    assert "error" in response.json()
    assert sim.get("/_sim/config").json() == before


def test_config_that_is_not_json_is_refused(sim: httpx.Client) -> None:
    response = sim.post("/_sim/config", content=b"latency_ms=5")

    assert response.status_code == 400


def test_latency_delays_provider_answers(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post("/_sim/config", json={"latency_ms": 200}).raise_for_status()

    started = time.monotonic()
    response = api.get("/transaction/verify/pay_slow")
    elapsed_s = time.monotonic() - started

    assert response.status_code == 400
    assert elapsed_s >= 0.2


def test_lognormal_latency_delays_provider_answers(sim: httpx.Client, api: httpx.Client) -> None:
    # Median equal to its p99: no spread, so the delay is exact.
    changes = {"latency_distribution": "lognormal", "latency_ms": 150, "latency_p99_ms": 150}
    sim.post("/_sim/config", json=changes).raise_for_status()

    started = time.monotonic()
    response = api.get("/transaction/verify/pay_lognormal")
    elapsed_s = time.monotonic() - started

    assert response.status_code == 400
    assert elapsed_s >= 0.15


def test_reset_keeps_the_configuration(sim: httpx.Client) -> None:
    changes = {"hang_after_rate": 0.5, "rules": {"pm_card_visa": {"fail_before_rate": 1}}}
    configured = sim.post("/_sim/config", json=changes).json()

    sim.post("/_sim/reset").raise_for_status()

    assert sim.get("/_sim/config").json() == configured


def test_reset_forgets_objects_movements_and_keys(sim: httpx.Client, api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "pay_reset"}
    body = {"amount": "100", "currency": "usd", "payment_method": "pm_card_visa", "confirm": "true"}
    first = api.post("/v1/payment_intents", data=body, headers=headers).json()
    api.post("/v1/refunds", data={"payment_intent": first["id"]}).raise_for_status()

    reset = sim.post("/_sim/reset")
    again = api.post("/v1/payment_intents", data=body, headers=headers)

    assert reset.status_code == 200
    assert api.get(f"/v1/payment_intents/{first['id']}").status_code == 404
    assert "idempotent-replayed" not in again.headers
    assert len(sim.get("/_sim/charges").json()["charges"]) == 1
    assert sim.get("/_sim/refunds").json() == {"refunds": []}
