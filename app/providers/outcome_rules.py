"""What both providers' wire transforms share: it is HTTP and our outcome rules, not either
provider's vocabulary."""

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, assert_never

import aiohttp

from app.providers.base import Outcome, ProviderAnswer
from app.providers.transport import NotSent, TransportError

FAILURE_MESSAGE_CHARS_MAX = 500
#: Failures of a call that got no HTTP answer (a timeout is asyncio's own error), on aiohttp
#: (Paystack) or on ``app.providers.transport`` (Stripe's SDK).
TRANSPORT_ERRORS = (aiohttp.ClientError, TransportError, TimeoutError)
#: Transport failures that happen before a request leaves: the provider cannot have acted.
#: (Both clients' connect timeouts cover waiting for the pool and for the TCP handshake.)
NOT_SENT_ERRORS = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, NotSent)


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


def declined(code: str, message: str | None, reference: str | None = None) -> ProviderAnswer:
    return ProviderAnswer(
        Outcome.DECLINED, provider_reference=reference, failure_code=code, failure_message=message
    )


def retryable(message: str | None, delay_s: float | None) -> ProviderAnswer:
    return ProviderAnswer(
        Outcome.RETRYABLE, failure_message=failure_message(message), retry_after_s=delay_s
    )


def rate_limited(message: str | None, delay_s: float | None) -> ProviderAnswer:
    return ProviderAnswer(
        Outcome.RATE_LIMITED, failure_message=failure_message(message), retry_after_s=delay_s
    )


def unrecognised_status(subject: str, status: object, reference: str | None) -> ProviderAnswer:
    """A status this adapter does not know: never guess whether money moved."""
    message = f"unrecognised {subject} status {status!r}"
    return ProviderAnswer(Outcome.UNKNOWN, provider_reference=reference, failure_message=message)


def transport_failure(error: BaseException | None) -> ProviderAnswer:
    """A call that got no HTTP answer: retryable only when the request never left."""
    message = failure_message(f"{type(error).__name__}: {error}")
    if isinstance(error, NOT_SENT_ERRORS):
        return ProviderAnswer(Outcome.RETRYABLE, failure_message=message)
    # Timed out or dropped after the request went out: the provider may have acted on it.
    return ProviderAnswer(Outcome.UNKNOWN, failure_message=message)


def require_same_money(subject: str, answer: Mapping[str, Any], amount: int, currency: str) -> None:
    """An answer for another payment, refund, amount or currency is a bug, never an outcome:
    raise rather than record someone else's money. Currency codes compare without regard to
    case."""
    if answer.get("amount") != amount:
        raise RuntimeError(f"{subject} has another amount")
    if str(answer.get("currency", "")).lower() != currency.lower():
        raise RuntimeError(f"{subject} has another currency")


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


def as_lookup_failure(outcome: ProviderAnswer, call: str) -> ProviderAnswer:
    """A refused lookup says nothing about the charge, so it is never a decline."""
    if outcome.outcome is not Outcome.DECLINED:
        return outcome
    message = f"{call} refused ({outcome.failure_code}): {outcome.failure_message}"
    return ProviderAnswer(Outcome.UNKNOWN, failure_message=failure_message(message))


def as_refund_failure(outcome: ProviderAnswer) -> ProviderAnswer:
    """A failed refund call never means a refund succeeded or is in flight: anything but a
    refusal or a known-safe retry is ambiguous."""
    match outcome.outcome:
        case Outcome.DECLINED | Outcome.RETRYABLE | Outcome.RATE_LIMITED | Outcome.UNKNOWN:
            return outcome
        case Outcome.SUCCEEDED | Outcome.REQUIRES_ACTION | Outcome.PENDING | Outcome.NOT_ATTEMPTED:
            message = f"refund call failed with a {outcome.outcome.value} answer"
            return ProviderAnswer(Outcome.UNKNOWN, failure_message=message)
        case unreachable:
            assert_never(unreachable)
