"""The seeded fault draws, the burst window and per-method rules, without a server."""

import time

from app.simulator.config import SimConfig
from app.simulator.faults import RETRY_AFTER_S_DEFAULT, Fault, Faults


def test_defaults_are_fault_free() -> None:
    faults = Faults(SimConfig())

    assert [faults.failure() for _ in range(100)] == [Fault.NONE] * 100
    assert not any(faults.rate_limited() for _ in range(100))
    assert faults.latency_s() == 0


def test_rates_of_one_always_fire_in_limiter_order() -> None:
    config = SimConfig(fail_before_rate=1, fail_after_rate=1, hang_after_rate=1, rate_limit_rate=1)
    faults = Faults(config)

    assert faults.rate_limited() == RETRY_AFTER_S_DEFAULT
    assert faults.failure() is Fault.FAIL_BEFORE
    faults.update({"fail_before_rate": 0})
    assert faults.failure() is Fault.FAIL_AFTER
    faults.update({"fail_after_rate": 0})
    assert faults.failure() is Fault.HANG_AFTER


def test_draws_follow_the_seed_and_restart_on_reseed() -> None:
    faults = Faults(SimConfig(fail_after_rate=0.5, latency_ms=10, latency_jitter_ms=10, seed=11))
    twin = Faults(SimConfig(fail_after_rate=0.5, latency_ms=10, latency_jitter_ms=10, seed=11))

    draws = [(faults.failure(), faults.latency_s()) for _ in range(50)]
    faults.reseed()

    assert draws == [(twin.failure(), twin.latency_s()) for _ in range(50)]
    assert draws == [(faults.failure(), faults.latency_s()) for _ in range(50)]
    assert {fault for fault, _ in draws} == {Fault.NONE, Fault.FAIL_AFTER}
    assert all(0 <= latency_s <= 0.02 for _, latency_s in draws)


def test_a_rule_applies_to_its_method_only() -> None:
    rule = {"fail_after_rate": 1, "rate_limit_rate": 1, "latency_ms": 250, "hang_ms": 40}
    faults = Faults(SimConfig(hang_ms=1_000))
    faults.update({"rules": {"pm_card_visa": rule}})

    assert faults.failure("pm_card_visa") is Fault.FAIL_AFTER
    assert faults.rate_limited("pm_card_visa") == RETRY_AFTER_S_DEFAULT
    assert (faults.latency_s("pm_card_visa"), faults.hang_s("pm_card_visa")) == (0.25, 0.04)
    for method in (None, "pm_card_mastercard"):
        assert faults.failure(method) is Fault.NONE
        assert faults.rate_limited(method) is None
        assert (faults.latency_s(method), faults.hang_s(method)) == (0, 1)


def test_a_burst_limits_every_call_for_its_window_then_stops() -> None:
    faults = Faults(SimConfig(fail_after_rate=0.5, seed=1))
    twin = Faults(SimConfig(fail_after_rate=0.5, seed=1))

    faults.update({"rate_limit_burst_s": 0.2})

    assert faults.rate_limited() == 1
    assert faults.rate_limited("pm_card_visa") == 1
    # The window draws nothing: the seeded sequence goes on as if it had not been.
    assert [faults.failure() for _ in range(20)] == [twin.failure() for _ in range(20)]
    time.sleep(0.25)
    assert faults.rate_limited() is None


def test_a_burst_says_how_long_it_lasts_and_ends_when_set_to_zero() -> None:
    faults = Faults(SimConfig(rate_limit_burst_s=90))

    assert faults.rate_limited() == 90
    faults.update({"latency_ms": 1})
    assert faults.rate_limited() == 90
    faults.update({"rate_limit_burst_s": 0})
    assert faults.rate_limited() is None
