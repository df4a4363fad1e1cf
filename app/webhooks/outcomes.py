"""What one attempt's answer decides for its delivery, by Standard Webhooks' rules: a 2xx is
delivered; 410 Gone disables the endpoint; anything else (3xx included: redirects are not
followed, as a redirect could lead anywhere) is retried on the schedule until it runs out."""

import random

from app.webhooks.chain import Attempt, Finished
from app.webhooks.schedule import retry_delay_s

SUCCEEDED = "succeeded"
PENDING = "pending"
FAILED = "failed"
GONE_STATUS = 410
#: The answers whose Retry-After asks for a longer wait ("slow down").
SLOW_DOWN_STATUSES = (429, 503)


def decide(
    attempt: Attempt,
    payment_id: str,
    attempts_before: int,
    retry_after_s: float | None,
    scale: float,
    draw: random.Random | None = None,
) -> Finished:
    status_code = attempt.status_code
    if status_code is not None and 200 <= status_code < 300:
        return Finished(attempt, payment_id, SUCCEEDED)
    if status_code == GONE_STATUS:
        return Finished(attempt, payment_id, FAILED, endpoint_gone=True)
    asked_s = retry_after_s if status_code in SLOW_DOWN_STATUSES else None
    delay_s = retry_delay_s(attempts_before + 1, scale, asked_s, draw)
    if delay_s is None:
        return Finished(attempt, payment_id, FAILED)
    return Finished(attempt, payment_id, PENDING, retry_in_s=delay_s)


def result_label(finished: Finished) -> str:
    """The metrics' name for what the attempt led to."""
    if finished.endpoint_gone:
        return "disabled"
    return {SUCCEEDED: "delivered", PENDING: "retrying", FAILED: "failed"}[finished.status]
