"""Simulated execution latency: one draw per call from the profile's distribution."""

import math
import random
from statistics import NormalDist

from app.simulator.config import LATENCY_MS_MAX, FaultProfile, LatencyDistribution

#: How many standard deviations the 99th percentile of a normal lies above its median:
#: the lognormal's sigma is ln(p99 / median) divided by it.
NORMAL_P99_Z = NormalDist().inv_cdf(0.99)


def draw_ms(source: random.Random, profile: FaultProfile) -> float:
    match profile.latency_distribution:
        case LatencyDistribution.UNIFORM:
            return uniform_ms(source, profile.latency_ms, profile.latency_jitter_ms)
        case LatencyDistribution.LOGNORMAL:
            return lognormal_ms(source, profile.latency_ms, profile.latency_p99_ms)


def uniform_ms(source: random.Random, mean_ms: float, jitter_ms: float) -> float:
    # No jitter draws nothing: a fixed latency consumes no randomness.
    if jitter_ms == 0:
        return mean_ms
    return max(0.0, source.uniform(mean_ms - jitter_ms, mean_ms + jitter_ms))


def lognormal_ms(source: random.Random, median_ms: float, p99_ms: float) -> float:
    """A draw whose median is ``median_ms`` and 99th percentile ``p99_ms``, capped at the max."""
    # No spread (both zero included: no latency) draws nothing.
    if p99_ms == median_ms:
        return median_ms
    if not 0 < median_ms < p99_ms:
        raise ValueError(f"lognormal needs 0 < median <= p99, got {median_ms} and {p99_ms}")
    sigma = math.log(p99_ms / median_ms) / NORMAL_P99_Z
    return min(source.lognormvariate(math.log(median_ms), sigma), LATENCY_MS_MAX)
