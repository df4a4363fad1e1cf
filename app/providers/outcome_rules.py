"""What both providers' wire transforms share: it is HTTP and our outcome rules, not either
provider's vocabulary."""

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import assert_never

import httpx

from app.providers.base import Outcome, ProviderAnswer

FAILURE_MESSAGE_CHARS_MAX = 500
#: Transport failures that happen before a request leaves: the provider cannot have acted.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def failure_message(message: object) -> str | None:
    return None if message is None else str(message)[:FAILURE_MESSAGE_CHARS_MAX]


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The Retry-After delay in seconds; the HTTP-date form is left to the worker's backoff."""
    lowered = {key.lower(): value for key, value in headers.items()}
    try:
        delay_s = float(lowered.get("retry-after", ""))
    except ValueError:
        return None
    return delay_s if math.isfinite(delay_s) and delay_s >= 0 else None


def as_charge_answer(outcome: ProviderAnswer, subject: str, moment: str) -> ProviderAnswer:
    """``charge`` never answers a lookup-only outcome: a charge still in flight or apparently
    untouched is UNKNOWN, and the actor reconciles it with ``lookup``."""
    match outcome.outcome:
        case Outcome.PENDING | Outcome.NOT_ATTEMPTED:
            message = f"{subject} is {outcome.outcome.value} after {moment}"
            return replace(outcome, outcome=Outcome.UNKNOWN, failure_message=message)
        case (
            Outcome.SUCCEEDED
            | Outcome.DECLINED
            | Outcome.REQUIRES_ACTION
            | Outcome.RETRYABLE
            | Outcome.RATE_LIMITED
            | Outcome.UNKNOWN
        ):
            return outcome
        case unreachable:
            assert_never(unreachable)
