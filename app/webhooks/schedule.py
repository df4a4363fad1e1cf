"""When a failed delivery is tried again: Svix's schedule (the one DESIGN names), with jitter so
an endpoint that comes back is not met by every merchant's backlog at the same second."""

import random

#: Delays after the first attempt's failure, then after each next one: about 5 s, 5 min,
#: 30 min, 2 h, 5 h, 10 h, 10 h. After the last, the delivery has failed for good (~33 h).
RETRY_SCHEDULE_S = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
ATTEMPTS_MAX = len(RETRY_SCHEDULE_S) + 1
#: Each delay is drawn within ±10 % of its scheduled value.
JITTER_RATIO = 0.1
#: A receiver's Retry-After is honoured up to the schedule's longest delay.
RETRY_AFTER_S_MAX = 10 * 3600


def retry_delay_s(
    attempts: int,
    scale: float = 1.0,
    retry_after_s: float | None = None,
    draw: random.Random | None = None,
) -> float | None:
    """Seconds to wait after the ``attempts``-th attempt failed, or None when that was the last.

    ``retry_after_s`` (the receiver's own ask, on 429 or 503) lengthens the wait, never shortens
    it; ``scale`` shrinks the schedule (tests)."""
    if attempts < 1:
        raise ValueError(f"attempts must be 1 or more, not {attempts}")
    if attempts >= ATTEMPTS_MAX:
        return None
    scheduled_s = RETRY_SCHEDULE_S[attempts - 1] * scale
    jitter = (draw or random).uniform(-JITTER_RATIO, JITTER_RATIO)
    delay_s = scheduled_s * (1 + jitter)
    if retry_after_s is not None:
        delay_s = max(delay_s, min(retry_after_s, RETRY_AFTER_S_MAX))
    return delay_s


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, when given as seconds (an HTTP date is ignored: rare from a
    receiver, and the schedule's own delay then applies)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())
