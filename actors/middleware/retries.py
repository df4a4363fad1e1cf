"""Dramatiq's Retries, plus deferral: waiting that does not use up a message's retry budget.

A retry budget is for failures. Waiting for capacity (our rate limits, a provider's 429), for
an outcome to become known (an ambiguous charge), or for PostgreSQL to come back is no failure:
a flash sale or a database restart must not push healthy payments into the dead-letter stream.
An actor raises ``Defer`` for those; this middleware stores the message again, delayed, with
its retry count untouched, and the worker then acks the delivery. The delayed copy is written
before the ack, so a crash in between leaves a duplicate (harmless: the actors' recovery points
make a second delivery a no-op) and never a loss.

Deferral is bounded too: past ``DEFERRALS_MAX`` a ``Defer`` counts as an ordinary retry, so a
message cannot wait for ever without reaching the dead-letter stream.
"""

from typing import Any

import dramatiq
from dramatiq.broker import Broker, MessageProxy

from app.settings import RetryPolicy

#: Reschedulings one message may have before its waits count against its retries: at the
#: longest deferral delay this is days, far beyond any outage we expect to ride out.
DEFERRALS_MAX = 10_000
#: Deferral delays double per deferral of the same message, up to their cap; the exponent is
#: bounded so the arithmetic stays small.
GROWTH_EXPONENT_MAX = 20
DEFERRALS_OPTION = "deferrals"


def actor_options(policy: RetryPolicy) -> dict[str, Any]:
    """Dramatiq's retry and time-limit options of an actor retried by ``policy``."""
    return {
        "max_retries": policy.retries_max,
        "min_backoff": policy.backoff_ms_min,
        "max_backoff": policy.backoff_ms_max,
        "time_limit": policy.time_limit_s * 1000,
    }


class Defer(dramatiq.Retry):
    """Run the message again after ``delay`` ms without using its retry budget.

    With ``delay_max`` set, the delay doubles with each deferral of the same message up to
    ``delay_max``. Under plain Dramatiq Retries it degrades to an ordinary ``Retry``."""

    def __init__(self, message: str, delay: int, delay_max: int | None = None) -> None:
        super().__init__(message, delay=delay)
        self.delay_max = delay_max

    def delay_for(self, deferrals: int) -> int:
        assert self.delay is not None
        if self.delay_max is None:
            return self.delay
        growth = 2 ** min(deferrals, GROWTH_EXPONENT_MAX)
        return min(self.delay * growth, max(self.delay, self.delay_max))


class Retries(dramatiq.middleware.Retries):
    """Dramatiq's Retries, with ``Defer`` rescheduling outside the retry budget."""

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        deferrals = int(message.options.get(DEFERRALS_OPTION, 0))
        if not isinstance(exception, Defer) or deferrals >= DEFERRALS_MAX:
            super().after_process_message(broker, message, result=result, exception=exception)
            return
        message.options[DEFERRALS_OPTION] = deferrals + 1
        delay = exception.delay_for(deferrals)
        self.logger.debug("Deferring message %r by %d ms: %s", message.message_id, delay, exception)
        # The proxy itself, as Dramatiq's Retries passes it: if storing fails, the broker marks
        # the delivery to stay pending instead of being acked and lost.
        broker.enqueue(message, delay=delay)  # type: ignore[arg-type]
