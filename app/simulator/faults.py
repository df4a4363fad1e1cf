"""The seeded fault decisions: every draw comes from one random source, so a seed repeats a run.

Only charge calls (those that move money or create objects) are faulty; each passes, in a real
stack's order, the rate limiter (a burst window, else a rate_limit_rate draw) and then one draw
per failure kind (fail_before, fail_after, hang_after; the first hit wins). A call carrying a
payment method with a rule draws with that rule's rates and latency.
"""

import enum
import math
import random
import time
from collections.abc import Mapping

from app.simulator.config import FaultProfile, SimConfig
from app.simulator.latency import draw_ms

#: What a 429 outside a burst asks the client to wait: a limiter's window is about a second.
RETRY_AFTER_S_DEFAULT = 1


class Fault(enum.Enum):
    NONE = "none"
    #: 500 before anything changes.
    FAIL_BEFORE = "fail_before"
    #: The work is done, then the answer is lost to a 500.
    FAIL_AFTER = "fail_after"
    #: The work is done, then the answer waits hang_ms: the client times out first.
    HANG_AFTER = "hang_after"


class Faults:
    """The live configuration, its burst window, and the single seeded random source."""

    def __init__(self, config: SimConfig) -> None:
        self._random = random.Random(config.seed)
        self._apply(config.validate(), burst_changed=True)

    def update(self, changes: Mapping[str, object]) -> SimConfig:
        self._apply(self.config.updated(changes), burst_changed="rate_limit_burst_s" in changes)
        return self.config

    def reseed(self) -> None:
        self._random.seed(self.config.seed)

    def rate_limited(self, method: str | None = None) -> int | None:
        """None when the call passes the rate limiter, else the seconds it should wait."""
        burst_left_s = self._burst_until_s - time.monotonic()
        if burst_left_s > 0:
            return max(RETRY_AFTER_S_DEFAULT, math.ceil(burst_left_s))
        if self._hit(self._profile(method).rate_limit_rate):
            return RETRY_AFTER_S_DEFAULT
        return None

    def failure(self, method: str | None = None) -> Fault:
        profile = self._profile(method)
        if self._hit(profile.fail_before_rate):
            return Fault.FAIL_BEFORE
        if self._hit(profile.fail_after_rate):
            return Fault.FAIL_AFTER
        if self._hit(profile.hang_after_rate):
            return Fault.HANG_AFTER
        return Fault.NONE

    def latency_s(self, method: str | None = None) -> float:
        return draw_ms(self._random, self._profile(method)) / 1000

    def hang_s(self, method: str | None = None) -> float:
        return self._profile(method).hang_ms / 1000

    def _apply(self, config: SimConfig, *, burst_changed: bool) -> None:
        self.config = config
        # Resolved once per change, not per call: rules merge with the base only here.
        self._base = config.profile()
        self._profiles = {method: config.profile(method) for method in config.rules}
        if burst_changed:
            self._burst_until_s = time.monotonic() + config.rate_limit_burst_s

    def _profile(self, method: str | None) -> FaultProfile:
        return self._base if method is None else self._profiles.get(method, self._base)

    def _hit(self, rate: float) -> bool:
        # A zero rate draws nothing: a fault-free run stays cheap and consumes no randomness.
        return rate > 0 and self._random.random() < rate
