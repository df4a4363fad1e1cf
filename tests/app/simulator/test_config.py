"""SimConfig validation, live updates and per-payment-method rules, without a server."""

from typing import Any

import pytest

from app.simulator.config import (
    HANG_MS_DEFAULT,
    PAYMENT_METHOD_LENGTH_MAX,
    RULES_MAX,
    ConfigError,
    FaultProfile,
    LatencyDistribution,
    SimConfig,
)


def test_defaults_are_fault_free() -> None:
    config = SimConfig().validate()

    assert config.profile() == FaultProfile()
    assert config.profile().hang_ms == HANG_MS_DEFAULT
    assert (config.rate_limit_burst_s, config.rules, config.seed) == (0, {}, None)


@pytest.mark.parametrize(
    "config",
    [
        SimConfig(fail_before_rate=1.01),
        SimConfig(fail_after_rate=-0.5),
        SimConfig(rate_limit_rate=float("nan")),
        SimConfig(hang_after_rate=2),
        SimConfig(latency_ms=-1),
        SimConfig(latency_jitter_ms=float("inf")),
        SimConfig(hang_ms=60_001),
        SimConfig(rate_limit_burst_s=-1),
        SimConfig(rate_limit_burst_s=3601),
        SimConfig(latency_distribution=LatencyDistribution.LOGNORMAL, latency_ms=100),
        SimConfig(latency_distribution=LatencyDistribution.LOGNORMAL, latency_p99_ms=100),
        SimConfig(rules={"pm_card_visa": {"fail_after_rate": 1.5}}),
    ],
)
def test_out_of_range_values_are_refused(config: SimConfig) -> None:
    with pytest.raises(ConfigError):
        config.validate()


def test_updated_takes_live_fields_only() -> None:
    config = SimConfig(seed=3)

    updated = config.updated({"latency_ms": 12, "rate_limit_rate": 0.5, "hang_ms": 500})

    assert (updated.latency_ms, updated.rate_limit_rate, updated.seed) == (12.0, 0.5, 3)
    assert updated.hang_ms == 500.0
    with pytest.raises(ConfigError):
        config.updated({"seed": 4})
    with pytest.raises(ConfigError):
        config.updated({"latency_ms": "12"})


def test_lognormal_needs_a_median_within_its_p99() -> None:
    changes: dict[str, object] = {"latency_distribution": "lognormal", "latency_ms": 80}

    updated = SimConfig().updated({**changes, "latency_p99_ms": 400})

    assert updated.latency_distribution is LatencyDistribution.LOGNORMAL
    assert updated.as_json()["latency_distribution"] == "lognormal"
    with pytest.raises(ConfigError, match="latency_p99_ms"):
        SimConfig().updated({**changes, "latency_p99_ms": 40})
    with pytest.raises(ConfigError, match="one of uniform, lognormal"):
        SimConfig().updated({"latency_distribution": "normal"})
    with pytest.raises(ConfigError):
        SimConfig().updated({"latency_distribution": 1})


def test_a_rule_overrides_its_method_only() -> None:
    rules = {"pm_card_visa": {"fail_after_rate": 0.5, "latency_ms": 20, "hang_ms": 100}}

    config = SimConfig(fail_before_rate=0.1, latency_ms=5).updated({"rules": rules})

    assert config.profile("pm_card_visa") == FaultProfile(
        fail_before_rate=0.1, fail_after_rate=0.5, latency_ms=20, hang_ms=100
    )
    assert config.profile("pm_card_mastercard") == config.profile()
    assert config.profile() == FaultProfile(fail_before_rate=0.1, latency_ms=5)
    assert config.as_json()["rules"] == rules


def test_a_rule_follows_later_changes_to_the_base() -> None:
    config = SimConfig().updated({"rules": {"AUTH_success": {"hang_after_rate": 1}}})

    updated = config.updated({"fail_before_rate": 0.25})

    assert updated.profile("AUTH_success").fail_before_rate == 0.25
    assert updated.profile("AUTH_success").hang_after_rate == 1


def test_rules_are_replaced_as_a_whole() -> None:
    config = SimConfig().updated({"rules": {"pm_card_visa": {"fail_after_rate": 1}}})

    assert config.updated({"rules": {"AUTH_success": {}}}).rules == {"AUTH_success": {}}
    assert config.updated({"rules": {}}).rules == {}
    assert config.updated({"latency_ms": 1}).rules == config.rules


@pytest.mark.parametrize(
    "rules",
    [
        [],
        {"pm_card_visa": 0.5},
        {"pm_card_visa": {"colour": "red"}},
        {"pm_card_visa": {"seed": 1}},
        {"pm_card_visa": {"rules": {}}},
        {"pm_card_visa": {"rate_limit_burst_s": 1}},
        {"pm_card_visa": {"fail_after_rate": "half"}},
        {"pm_card_visa": {"fail_after_rate": True}},
        {"pm_card_visa": {"hang_ms": 1e9}},
        {"pm_card_visa": {"latency_distribution": "lognormal", "latency_ms": 10}},
        {"": {}},
        {"x" * (PAYMENT_METHOD_LENGTH_MAX + 1): {}},
        {f"pm_{index}": {} for index in range(RULES_MAX + 1)},
    ],
)
def test_bad_rules_are_refused(rules: Any) -> None:
    with pytest.raises(ConfigError):
        SimConfig().updated({"rules": rules})


def test_a_rule_made_impossible_by_a_base_change_is_refused() -> None:
    config = SimConfig().updated({"rules": {"pm_card_visa": {"latency_distribution": "lognormal"}}})

    with pytest.raises(ConfigError, match="pm_card_visa"):
        config.updated({"latency_ms": 100})
