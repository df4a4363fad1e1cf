"""The simulator's fault configuration: what may be set, and the ranges it must stay within.

The top-level fault fields are the base profile every provider call gets. ``rules`` maps a
payment method (a Stripe ``payment_method`` such as ``pm_card_visa``, a Paystack
``authorization_code`` such as ``AUTH_success``) to overrides of those fields for the calls that
carry it. A rule holds only the fields it overrides; the rest follow the base profile, even as
the base changes later. Every rule is checked merged with the base on every change, so no
accepted change can leave a method with an impossible profile.
"""

import enum
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

#: No simulated answer waits longer than a minute: every client times out well before that.
LATENCY_MS_MAX = 60_000.0
#: Past the 10-30 s timeouts clients typically set, so a hung call reads as a timeout.
HANG_MS_DEFAULT = 30_000.0
#: A burst is a test scenario, not a mode to leave on: an hour is far beyond any test run.
RATE_LIMIT_BURST_S_MAX = 3600.0
#: Far more methods than the test cards and authorizations the simulator knows.
RULES_MAX = 64
#: Stripe's own object ids are far shorter; anything longer is a client bug.
PAYMENT_METHOD_LENGTH_MAX = 255


class ConfigError(ValueError):
    """A configuration value the simulator refuses."""


class LatencyDistribution(enum.StrEnum):
    #: Drawn uniformly from latency_ms ± latency_jitter_ms.
    UNIFORM = "uniform"
    #: Lognormal with median latency_ms and 99th percentile latency_p99_ms: a long right tail,
    #: as real provider latencies have.
    LOGNORMAL = "lognormal"


#: The stored rule of one payment method: field name to overriding value.
Overrides = Mapping[str, float | LatencyDistribution]


@dataclass(frozen=True, slots=True)
class FaultProfile:
    """The fault fields, as the base configuration holds them and a rule may override them."""

    latency_distribution: LatencyDistribution = LatencyDistribution.UNIFORM
    #: The mean (uniform) or the median (lognormal) time spent executing each provider call.
    latency_ms: float = 0.0
    #: Uniform only: each latency is drawn from mean ± jitter (never below zero).
    latency_jitter_ms: float = 0.0
    #: Lognormal only: the 99th percentile; must be at least the median.
    latency_p99_ms: float = 0.0
    #: Fraction of charge calls answered 500 before anything changes (safe to retry).
    fail_before_rate: float = 0.0
    #: Fraction of charge calls that do their work and then answer 500 (ambiguous).
    fail_after_rate: float = 0.0
    #: Fraction of charge calls that do their work and then answer only after hang_ms, so the
    #: client times out (ambiguous).
    hang_after_rate: float = 0.0
    hang_ms: float = HANG_MS_DEFAULT
    #: Fraction of charge calls answered 429; drawn first, as a real rate limiter runs first.
    rate_limit_rate: float = 0.0

    def validate(self) -> "FaultProfile":
        if not isinstance(self.latency_distribution, LatencyDistribution):
            raise ConfigError(f"latency_distribution must be one of {_distributions()}")
        for name in DURATION_FIELDS:
            _check_range(name, getattr(self, name), LATENCY_MS_MAX)
        for name in RATE_FIELDS:
            _check_range(name, getattr(self, name), 1.0)
        if self.latency_distribution is LatencyDistribution.LOGNORMAL:
            _check_lognormal(self.latency_ms, self.latency_p99_ms)
        return self


@dataclass(frozen=True, slots=True)
class SimConfig(FaultProfile):
    """The base fault profile, plus what applies to every call alike."""

    #: Setting it opens a window of this many seconds, from that moment, in which every charge
    #: call answers 429; setting it again (0 included) replaces the window.
    rate_limit_burst_s: float = 0.0
    #: Payment method to the fault fields that differ for its calls.
    rules: Mapping[str, Overrides] = field(default_factory=dict)
    #: Seed of the one random source all fault and latency draws come from; None: unseeded.
    seed: int | None = None

    def validate(self) -> "SimConfig":
        self.profile().validate()
        _check_range("rate_limit_burst_s", self.rate_limit_burst_s, RATE_LIMIT_BURST_S_MAX)
        if len(self.rules) > RULES_MAX:
            raise ConfigError(f"rules may name at most {RULES_MAX} payment methods")
        for method in self.rules:
            try:
                self.profile(method).validate()
            except ConfigError as error:
                raise ConfigError(f"rules[{method!r}]: {error}") from error
        return self

    def profile(self, method: str | None = None) -> FaultProfile:
        """The fault fields for calls with this payment method: the base, overridden by a rule."""
        base = FaultProfile(**{name: getattr(self, name) for name in PROFILE_FIELDS})
        if method is None or method not in self.rules:
            return base
        # Any: each override is of its field's type, which `_field` checked by name.
        overrides: dict[str, Any] = dict(self.rules[method])
        return replace(base, **overrides)

    def updated(self, changes: Mapping[str, object]) -> "SimConfig":
        """A copy with the live fields in ``changes`` applied; raises ConfigError on any bad one.

        ``rules``, when given, replaces every rule at once.
        """
        unknown = sorted(set(changes) - set(LIVE_FIELDS))
        if unknown:
            raise ConfigError(f"unknown or fixed fields: {', '.join(unknown)}")
        parsed: dict[str, Any] = {
            name: _rules(value) if name == "rules" else _field(name, value)
            for name, value in changes.items()
        }
        return replace(self, **parsed).validate()

    def as_json(self) -> dict[str, object]:
        return asdict(self)


PROFILE_FIELDS = tuple(profile_field.name for profile_field in fields(FaultProfile))
DURATION_FIELDS = ("latency_ms", "latency_jitter_ms", "latency_p99_ms", "hang_ms")
RATE_FIELDS = ("fail_before_rate", "fail_after_rate", "hang_after_rate", "rate_limit_rate")
#: What `POST /_sim/config` may change; the seed is fixed for the life of the process.
LIVE_FIELDS = (*PROFILE_FIELDS, "rate_limit_burst_s", "rules")


def _rules(value: object) -> dict[str, Overrides]:
    if not isinstance(value, dict):
        raise ConfigError("rules must be an object of payment method to fault fields")
    return {_method(method): _overrides(method, overrides) for method, overrides in value.items()}


def _method(method: str) -> str:
    if not 0 < len(method) <= PAYMENT_METHOD_LENGTH_MAX:
        raise ConfigError(f"a rule's payment method must be 1..{PAYMENT_METHOD_LENGTH_MAX} long")
    return method


def _overrides(method: str, overrides: object) -> Overrides:
    if not isinstance(overrides, dict):
        raise ConfigError(f"rules[{method!r}] must be an object of fault fields")
    unknown = sorted(set(overrides) - set(PROFILE_FIELDS))
    if unknown:
        raise ConfigError(f"rules[{method!r}]: not a fault field: {', '.join(unknown)}")
    return {name: _field(name, value) for name, value in overrides.items()}


def _field(name: str, value: object) -> float | LatencyDistribution:
    if name == "latency_distribution":
        return _distribution(value)
    return _number(name, value)


def _distribution(value: object) -> LatencyDistribution:
    if not isinstance(value, str):
        raise ConfigError(f"latency_distribution must be one of {_distributions()}")
    try:
        return LatencyDistribution(value)
    except ValueError as error:
        raise ConfigError(f"latency_distribution must be one of {_distributions()}") from error


def _distributions() -> str:
    return ", ".join(distribution.value for distribution in LatencyDistribution)


def _number(name: str, value: object) -> float:
    # bool is an int subclass; `true` as a rate is a client bug, not 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number")
    return float(value)


def _check_range(name: str, value: object, value_max: float) -> None:
    number = _number(name, value)
    if not math.isfinite(number) or number < 0 or number > value_max:
        raise ConfigError(f"{name} must be within 0..{value_max:g}, got {value!r}")


def _check_lognormal(median_ms: float, p99_ms: float) -> None:
    # Both zero is "no latency"; otherwise the tail needs a positive median below its p99.
    if median_ms > p99_ms or (median_ms == 0 and p99_ms > 0):
        raise ConfigError(
            "lognormal latency needs 0 < latency_ms (the median) <= latency_p99_ms, "
            f"got {median_ms:g} and {p99_ms:g}"
        )
