"""SimConfig validation and the seeded fault draws, without a server."""

import pytest

from app.simulator.config import ConfigError, Fault, Faults, SimConfig


def test_defaults_are_fault_free() -> None:
    faults = Faults(SimConfig())

    assert [faults.failure() for _ in range(100)] == [Fault.NONE] * 100
    assert not any(faults.rate_limited() for _ in range(100))
    assert faults.latency_s() == 0


@pytest.mark.parametrize(
    "config",
    [
        SimConfig(fail_before_rate=1.01),
        SimConfig(fail_after_rate=-0.5),
        SimConfig(rate_limit_rate=float("nan")),
        SimConfig(latency_ms=-1),
        SimConfig(latency_jitter_ms=float("inf")),
    ],
)
def test_out_of_range_values_are_refused(config: SimConfig) -> None:
    with pytest.raises(ConfigError):
        config.validate()


def test_updated_takes_live_fields_only() -> None:
    config = SimConfig(seed=3)

    updated = config.updated({"latency_ms": 12, "rate_limit_rate": 0.5})

    assert (updated.latency_ms, updated.rate_limit_rate, updated.seed) == (12.0, 0.5, 3)
    with pytest.raises(ConfigError):
        config.updated({"seed": 4})
    with pytest.raises(ConfigError):
        config.updated({"latency_ms": "12"})


def test_rates_of_one_always_fire_in_limiter_order() -> None:
    faults = Faults(SimConfig(fail_before_rate=1, fail_after_rate=1, rate_limit_rate=1))

    assert faults.rate_limited()
    assert faults.failure() is Fault.FAIL_BEFORE
    faults.update({"fail_before_rate": 0})
    assert faults.failure() is Fault.FAIL_AFTER


def test_draws_follow_the_seed_and_restart_on_reseed() -> None:
    faults = Faults(SimConfig(fail_after_rate=0.5, latency_ms=10, latency_jitter_ms=10, seed=11))
    twin = Faults(SimConfig(fail_after_rate=0.5, latency_ms=10, latency_jitter_ms=10, seed=11))

    draws = [(faults.failure(), faults.latency_s()) for _ in range(50)]
    faults.reseed()

    assert draws == [(twin.failure(), twin.latency_s()) for _ in range(50)]
    assert draws == [(faults.failure(), faults.latency_s()) for _ in range(50)]
    assert {fault for fault, _ in draws} == {Fault.NONE, Fault.FAIL_AFTER}
    assert all(0 <= latency_s <= 0.02 for _, latency_s in draws)
