"""The latency draws: their shape over many seeded draws, and their bounds."""

import random
import statistics

import pytest

from app.simulator.config import LATENCY_MS_MAX, FaultProfile, LatencyDistribution
from app.simulator.latency import draw_ms, lognormal_ms, uniform_ms

DRAWS = 20_000


def percentile(draws: list[float], fraction: float) -> float:
    return sorted(draws)[int(len(draws) * fraction)]


def test_lognormal_has_the_median_and_p99_asked_for() -> None:
    source = random.Random(5)

    draws = [lognormal_ms(source, 120, 900) for _ in range(DRAWS)]

    assert statistics.median(draws) == pytest.approx(120, rel=0.05)
    assert percentile(draws, 0.99) == pytest.approx(900, rel=0.1)
    assert min(draws) > 0


def test_lognormal_repeats_with_its_seed() -> None:
    first, second = random.Random(9), random.Random(9)

    assert [lognormal_ms(first, 50, 400) for _ in range(100)] == [
        lognormal_ms(second, 50, 400) for _ in range(100)
    ]


def test_lognormal_is_capped_at_the_latency_max() -> None:
    source = random.Random(1)

    draws = [lognormal_ms(source, 20_000, LATENCY_MS_MAX) for _ in range(1_000)]

    assert max(draws) == LATENCY_MS_MAX


def test_no_spread_draws_nothing() -> None:
    source = random.Random(2)
    state = source.getstate()

    assert lognormal_ms(source, 70, 70) == 70
    assert lognormal_ms(source, 0, 0) == 0
    assert uniform_ms(source, 30, 0) == 30
    assert source.getstate() == state


def test_lognormal_refuses_a_p99_below_its_median() -> None:
    with pytest.raises(ValueError):
        lognormal_ms(random.Random(), 100, 50)


def test_uniform_stays_within_its_jitter_and_above_zero() -> None:
    source = random.Random(3)

    draws = [uniform_ms(source, 10, 20) for _ in range(1_000)]

    assert all(0 <= draw <= 30 for draw in draws)
    assert draws.count(0.0) > 0


def test_the_profile_picks_the_distribution() -> None:
    uniform = FaultProfile(latency_ms=40, latency_jitter_ms=10, latency_p99_ms=5_000)
    lognormal = FaultProfile(
        latency_distribution=LatencyDistribution.LOGNORMAL, latency_ms=40, latency_p99_ms=5_000
    )
    source = random.Random(4)

    uniform_draws = [draw_ms(source, uniform) for _ in range(1_000)]
    lognormal_draws = [draw_ms(source, lognormal) for _ in range(1_000)]

    assert max(uniform_draws) <= 50
    assert max(lognormal_draws) > 1_000
