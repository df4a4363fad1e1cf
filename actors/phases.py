"""What the charge and the refund actors share: the run loop over a persisted recovery point,
admission to a provider within the rate limits, the compare-and-set move, and recording an
outcome in the ledger.

Each actor is a state machine over its record's step: ``run`` reads the record, stops at a final
step, and otherwise runs the phase its step names; a phase does one thing and moves the step
forward with a compare-and-set, so a retried or reclaimed message resumes where the last attempt
stopped, and money already moved is never asked for again.
"""

import logging
from typing import Any, Generic, Protocol, TypeVar

import dramatiq
import psycopg
from sqlalchemy.exc import SQLAlchemyError

from actors.middleware.retries import Defer
from actors.runtime import Runtime
from actors.state import RecoveryPoints
from app.ledger import Entry, Recorded
from app.providers.base import Outcome, Provider, ProviderAnswer
from app.recovery import RecoveryStep
from app.settings import Settings

#: A record settles in at most this many phases; more means a bug, not bad luck.
PHASES_MAX = 12
#: How long to wait for PostgreSQL before recording an outcome again; doubling up to the maximum
#: so a long outage costs few attempts, while a short one is caught up quickly.
LEDGER_RETRY_DELAY_MS = 1_000
LEDGER_RETRY_DELAY_MS_MAX = 15_000
#: When the provider's 429 named no wait.
RATE_LIMITED_DELAY_MS = 1_000
logger = logging.getLogger(__name__)


class Stepped(Protocol):
    @property
    def step(self) -> RecoveryStep: ...


Record = TypeVar("Record", bound=Stepped)


def retry_delay_ms(answer: ProviderAnswer) -> int | None:
    """The provider's own wait when it gave one; otherwise Dramatiq's backoff decides."""
    if answer.retry_after_s is None:
        return None
    return int(answer.retry_after_s * 1000)


def rate_limited(answer: ProviderAnswer) -> Defer:
    """The provider's own limiter refused: wait as long as it asked, outside the retry budget."""
    return Defer("provider rate limit", delay=retry_delay_ms(answer) or RATE_LIMITED_DELAY_MS)


def try_again(answer: ProviderAnswer) -> dramatiq.Retry:
    """For a call refused before it acted: a rate limit waits outside the retry budget, any
    other refusal uses it."""
    if answer.outcome is Outcome.RATE_LIMITED:
        return rate_limited(answer)
    return dramatiq.Retry("provider asked to retry", delay=retry_delay_ms(answer))


def failure_fields(answer: ProviderAnswer, default_code: str) -> dict[str, str]:
    return {
        "failure_code": answer.failure_code or default_code,
        "failure_message": answer.failure_message or "",
    }


def retry_options(config: Settings) -> dict[str, Any]:
    """Dramatiq's retry and time-limit options of an actor that moves money."""
    return {
        "max_retries": config.charge_retries_max,
        "min_backoff": config.charge_backoff_ms_min,
        "max_backoff": config.charge_backoff_ms_max,
        "time_limit": config.charge_time_limit_s * 1000,
    }


def ledger_fields(recorded: Recorded) -> dict[str, str]:
    return {"ledger_transaction_id": recorded.transaction_id, "ledger_seq": str(recorded.seq)}


class StateMachine(Generic[Record]):
    """Drives one record, named by ``object_id``, through the phases of ``phase``."""

    def __init__(self, context: Runtime, object_id: str, points: RecoveryPoints[Record]) -> None:
        self.context = context
        self.object_id = object_id
        self.points = points

    def run(self) -> None:
        for _ in range(PHASES_MAX):
            record = self.points.load(self.object_id)
            if record is None:
                logger.error("%s has no record; dropping its message", self.object_id)
                return
            if record.step.final:
                return
            self.phase(record)
        raise RuntimeError(f"Bug: {self.object_id} did not settle in {PHASES_MAX} phases")

    def phase(self, record: Record) -> None:
        raise NotImplementedError

    def provider(self, name: str) -> Provider:
        """The named provider, once a call to it fits the rate limits (else ``Defer``)."""
        self.context.throttle.admit(name)
        return self.context.providers[name]

    def advance(
        self, expected: RecoveryStep, target: RecoveryStep, fields: dict[str, str] | None = None
    ) -> bool:
        moved = self.points.advance(self.object_id, expected, target, fields)
        if not moved:
            logger.info("%s moved on elsewhere; re-reading it", self.object_id)
        return moved

    def record_in_ledger(self, entry: Entry) -> Recorded:
        """The entry, durably in the ledger; ``Defer`` while PostgreSQL cannot take it.

        The outcome waits, durably, in the record's step meanwhile: however long the outage,
        this is no failure of the payment."""
        try:
            return self.context.ledger.record(entry)
        except (SQLAlchemyError, psycopg.Error) as error:
            logger.warning("ledger unavailable for %s: %s", self.object_id, type(error).__name__)
            raise Defer(
                "ledger unavailable",
                delay=LEDGER_RETRY_DELAY_MS,
                delay_max=LEDGER_RETRY_DELAY_MS_MAX,
            ) from None
