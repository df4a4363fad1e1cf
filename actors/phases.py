"""The one engine both money-moving actors run on (rocket-rides style).

A state machine over a record's persisted recovery point: ``run`` reads the record once; each
phase looks at it and returns its ``Transition`` (the target step and the fields stored with
it), or raises a wait (``Defer``) or a retry; the engine applies the transition with a single
compare-and-set that also answers the record as it now stands, and runs the next phase on it.
So a phase does one thing, money already moved is never asked for again, and a retried or
reclaimed message resumes where the last attempt stopped.

A phase is told whether its record's step was stored by this very run (``fresh``): a step
stored before a provider call (``charging``) means "call now" when fresh, and "a call may have
gone out: look it up" when found so by a later run.
"""

import logging
import time
from typing import Generic

import dramatiq

from actors.middleware.retries import Defer
from actors.relay import relay_own
from actors.runtime import Runtime
from actors.state import Moved, RecoveryPoints, Transition
from app import logs
from app.events.relay import StoredEvent
from app.ledger import Entry, Recorded
from app.metrics import PAYMENTS_SETTLED, REFUNDS_SETTLED, SETTLE_LATENCY
from app.payments.record import PaymentRecord
from app.providers.base import Outcome, Provider, ProviderAnswer
from app.queue import keys
from app.recovery import Record

#: A record settles in at most this many phases; more means a bug, not bad luck.
PHASES_MAX = 12
#: When the provider's 429 named no wait.
RATE_LIMITED_DELAY_MS = 1_000
logger = logging.getLogger(__name__)
#: One line per payment or refund reaching its final step (its ids come from the context).
settled_log = logs.get_logger("paystream.settled")
SETTLED = {"payment": PAYMENTS_SETTLED, "refund": REFUNDS_SETTLED}


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


def ledger_fields(recorded: Recorded) -> dict[str, str]:
    return {"ledger_transaction_id": recorded.transaction_id, "ledger_seq": str(recorded.seq)}


class StateMachine(Generic[Record]):
    """Drives one record, named by ``object_id``, through the phases of ``phase``."""

    def __init__(self, context: Runtime, object_id: str, points: RecoveryPoints[Record]) -> None:
        self.context = context
        self.object_id = object_id
        self.points = points

    async def run(self) -> None:
        record = await self.points.load(self.object_id)
        fresh = False
        published: StoredEvent | None = None
        for _ in range(PHASES_MAX):
            if record is None:
                logger.error("%s has no record; dropping its message", self.object_id)
                return
            await self.relay_published(record, published)
            if self.done(record):
                return
            transition = await self.phase(record, fresh)
            moved = await self.store(record, transition)
            record, fresh, published = moved.record, moved.moved, moved.published
            if fresh and record is not None and record.step.final:
                self.settled(record)
            if not fresh:
                logger.info("%s moved on elsewhere; going on from there", self.object_id)
            elif transition.then is not None:
                if record is not None:
                    await self.relay_published(record, published)
                raise transition.then
        raise RuntimeError(f"Bug: {self.object_id} did not settle in {PHASES_MAX} phases")

    async def relay_published(self, record: Record, published: StoredEvent | None) -> None:
        """The event the record's last move published, relayed before this message can be
        acknowledged: by a rerun, when the worker that moved it died first. ``published`` is
        the event this run's last move stored, if it did."""
        event_id = record.relay_pending
        if event_id is None:
            return
        payment = record if isinstance(record, PaymentRecord) else None
        known = published if published is not None and published.id == event_id else None
        await relay_own(self.context, self.points.key(record.id), event_id, payment, known)

    def done(self, record: Record) -> bool:
        """Whether this run is over: once the record is final, unless a machine stops sooner."""
        return record.step.final

    async def phase(self, record: Record, fresh: bool) -> Transition:
        raise NotImplementedError

    def settled(self, record: Record) -> None:
        """This run moved the record to its final step: one log line, and the metrics."""
        kind = self.points.noun
        settled_log.info("record.settled", step=record.step.value)
        SETTLED[kind].labels(record.step.status).inc()
        created_ms = keys.created_ms(record.id, self.points.id_prefix)
        if created_ms is not None:
            SETTLE_LATENCY.labels(kind).observe(max(0.0, time.time() - created_ms / 1000))

    async def store(self, record: Record, transition: Transition) -> Moved[Record]:
        return await self.points.apply(record, transition)

    async def provider(self, name: str, calls: int = 1) -> Provider:
        """The named provider, once ``calls`` calls to it fit the rate limits (else ``Defer``)."""
        await self.context.throttle.admit(name, calls)
        return self.context.providers[name]

    async def record_in_ledger(self, entry: Entry) -> Recorded:
        """The entry, durably in the ledger; ``Defer`` while PostgreSQL cannot take it (the
        outcome waits in the record's step meanwhile)."""
        return await self.context.ledger.durably(entry, self.object_id)
