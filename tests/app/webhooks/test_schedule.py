"""The retry schedule: DESIGN's delays within their jitter, Retry-After lengthening a wait up
to its cap, and an end."""

import random

import pytest

from app.webhooks.schedule import (
    ATTEMPTS_MAX,
    JITTER_RATIO,
    RETRY_AFTER_S_MAX,
    RETRY_SCHEDULE_S,
    parse_retry_after,
    retry_delay_s,
)

DRAWS = 200


def test_the_schedule_is_designs_about_5s_to_10h_over_8_attempts() -> None:
    assert RETRY_SCHEDULE_S == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert ATTEMPTS_MAX == 8


@pytest.mark.parametrize("attempts", range(1, ATTEMPTS_MAX))
def test_each_delay_is_jittered_within_ten_percent(attempts: int) -> None:
    draw = random.Random(attempts)
    scheduled = RETRY_SCHEDULE_S[attempts - 1]
    delays = [retry_delay_s(attempts, draw=draw) for _ in range(DRAWS)]

    assert all(
        d is not None and scheduled * (1 - JITTER_RATIO) <= d <= scheduled * (1 + JITTER_RATIO)
        for d in delays
    )
    assert len(set(delays)) > DRAWS // 2  # spread, not one value


def test_after_the_last_attempt_there_is_no_retry() -> None:
    assert retry_delay_s(ATTEMPTS_MAX) is None
    with pytest.raises(ValueError):
        retry_delay_s(0)


def test_retry_after_lengthens_but_never_shortens_and_is_capped() -> None:
    draw = random.Random(1)
    assert retry_delay_s(1, retry_after_s=600, draw=draw) == 600
    shorter = retry_delay_s(3, retry_after_s=1, draw=draw)
    assert shorter is not None and shorter >= 1800 * (1 - JITTER_RATIO)
    assert retry_delay_s(1, retry_after_s=10**9, draw=draw) == RETRY_AFTER_S_MAX


def test_scale_shrinks_the_schedule_for_tests() -> None:
    delay = retry_delay_s(2, scale=0.01, draw=random.Random(2))
    assert delay is not None and 2.7 <= delay <= 3.3


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        (None, None),
        ("soon", None),
        ("-3", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_retry_after_is_read_as_seconds_only(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds
