"""The simulator's live configuration and the seeded fault decisions it drives."""

import enum
import math
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

#: No simulated answer waits longer than a minute: every client times out well before that.
LATENCY_MS_MAX = 60_000.0

LATENCY_FIELDS = ("latency_ms", "latency_jitter_ms")
RATE_FIELDS = ("fail_before_rate", "fail_after_rate", "rate_limit_rate")
#: What `POST /_sim/config` may change; the seed is fixed for the life of the process.
LIVE_FIELDS = LATENCY_FIELDS + RATE_FIELDS


class ConfigError(ValueError):
    """A configuration value the simulator refuses."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    #: Mean time spent executing each provider call.
    latency_ms: float = 0.0
    #: Each call's latency is drawn uniformly from mean ± jitter (never below zero).
    latency_jitter_ms: float = 0.0
    #: Fraction of charge calls answered 500 before anything changes (safe to retry).
    fail_before_rate: float = 0.0
    #: Fraction of charge calls that do their work and then answer 500 (ambiguous).
    fail_after_rate: float = 0.0
    #: Fraction of charge calls answered 429; drawn first, as a real rate limiter runs first.
    rate_limit_rate: float = 0.0
    #: Seed of the one random source all fault and latency draws come from; None: unseeded.
    seed: int | None = None

    def validate(self) -> "SimConfig":
        for name in LATENCY_FIELDS:
            _check_range(name, getattr(self, name), LATENCY_MS_MAX)
        for name in RATE_FIELDS:
            _check_range(name, getattr(self, name), 1.0)
        return self

    def updated(self, changes: Mapping[str, object]) -> "SimConfig":
        """A copy with the live fields in ``changes`` applied; raises ConfigError on any bad one."""
        unknown = sorted(set(changes) - set(LIVE_FIELDS))
        if unknown:
            raise ConfigError(f"unknown or fixed fields: {', '.join(unknown)}")
        numbers: dict[str, Any] = {name: _number(name, value) for name, value in changes.items()}
        return replace(self, **numbers).validate()

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def _number(name: str, value: object) -> float:
    # bool is an int subclass; `true` as a rate is a client bug, not 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number")
    return float(value)


def _check_range(name: str, value: float, value_max: float) -> None:
    if not math.isfinite(value) or value < 0 or value > value_max:
        raise ConfigError(f"{name} must be within 0..{value_max:g}, got {value!r}")


class Fault(enum.Enum):
    NONE = "none"
    #: 500 before anything changes.
    FAIL_BEFORE = "fail_before"
    #: The work is done, then the answer is lost to a 500.
    FAIL_AFTER = "fail_after"


class Faults:
    """The live configuration plus the single seeded random source every draw comes from."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config.validate()
        self._random = random.Random(config.seed)

    def update(self, changes: Mapping[str, object]) -> SimConfig:
        self.config = self.config.updated(changes)
        return self.config

    def reseed(self) -> None:
        self._random.seed(self.config.seed)

    def rate_limited(self) -> bool:
        return self._hit(self.config.rate_limit_rate)

    def failure(self) -> Fault:
        if self._hit(self.config.fail_before_rate):
            return Fault.FAIL_BEFORE
        if self._hit(self.config.fail_after_rate):
            return Fault.FAIL_AFTER
        return Fault.NONE

    def latency_s(self) -> float:
        mean_ms, jitter_ms = self.config.latency_ms, self.config.latency_jitter_ms
        if jitter_ms == 0:
            return mean_ms / 1000
        return max(0.0, self._random.uniform(mean_ms - jitter_ms, mean_ms + jitter_ms)) / 1000

    def _hit(self, rate: float) -> bool:
        # A zero rate draws nothing: a fault-free run stays cheap and consumes no randomness.
        return rate > 0 and self._random.random() < rate
