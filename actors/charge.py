"""The charge actor: drives one payment from ``accepted`` to its recorded outcome.

It reads like a state machine over the persisted recovery point. Each phase does one thing,
then moves the point forward with a compare-and-set, so a retried or reclaimed message resumes
where the last attempt stopped, and money already moved is never asked for again.

    accepted ──prepare──▶ prepared ──charge──▶ charging ─┬─▶ charged ──ledger──▶ recorded
                                                          ├─▶ declined
                                                          ├─▶ requires_action
                                                          └─▶ unknown ──lookup──▶ (any of these)
"""

import logging
from typing import Any

import dramatiq
import psycopg
from sqlalchemy.exc import SQLAlchemyError

from actors.retries import Defer
from actors.runtime import Runtime, runtime
from app.dispatch import CHARGE_ACTOR, PAYMENTS_QUEUE
from app.ledger import capture_entry, clearing_account
from app.payment_record import TERMINAL_STEPS, Step
from app.providers.base import ChargeOutcome, ChargeRequest, Outcome, Provider
from app.settings import settings

Record = dict[str, Any]
#: A payment settles in at most this many phases; more means a bug, not bad luck.
PHASES_MAX = 12
#: How long an ambiguous charge waits before we ask the provider what happened; the wait
#: doubles with each lookup that still cannot tell, up to the maximum.
RECONCILE_DELAY_MS = 2_000
RECONCILE_DELAY_MS_MAX = 300_000
#: How long to wait for PostgreSQL before recording an outcome again; doubling up to the maximum
#: so a long outage costs few attempts, while a short one is caught up quickly.
LEDGER_RETRY_DELAY_MS = 1_000
LEDGER_RETRY_DELAY_MS_MAX = 15_000
#: When the provider's 429 named no wait.
RATE_LIMITED_DELAY_MS = 1_000
logger = logging.getLogger(__name__)


def charge_request(record: Record) -> ChargeRequest:
    return ChargeRequest(
        payment_id=record["id"],
        merchant_id=record["merchant_id"],
        amount=record["amount"],
        currency=record["currency"],
        payment_method=record["payment_method"],
        customer_email=record["customer"].get("email"),
        description=record["description"],
        metadata=record["metadata"],
    )


def retry_delay_ms(outcome: ChargeOutcome) -> int | None:
    """The provider's own wait when it gave one; otherwise Dramatiq's backoff decides."""
    if outcome.retry_after_s is None:
        return None
    return int(outcome.retry_after_s * 1000)


def rate_limited(outcome: ChargeOutcome) -> Defer:
    """The provider's own limiter refused: wait as long as it asked, outside the retry budget."""
    return Defer("provider rate limit", delay=retry_delay_ms(outcome) or RATE_LIMITED_DELAY_MS)


def try_again(outcome: ChargeOutcome) -> dramatiq.Retry:
    """For a call refused before it acted: a rate limit waits outside the retry budget, any
    other refusal uses it."""
    if outcome.outcome is Outcome.RATE_LIMITED:
        return rate_limited(outcome)
    return dramatiq.Retry("provider asked to retry", delay=retry_delay_ms(outcome))


def failure_fields(outcome: ChargeOutcome) -> dict[str, str]:
    return {
        "failure_code": outcome.failure_code or "declined",
        "failure_message": outcome.failure_message or "",
    }


#: Where a settled provider answer moves the payment, from ``charging`` or ``unknown``.
SETTLED_STEP = {
    Outcome.SUCCEEDED: Step.CHARGED,
    Outcome.DECLINED: Step.DECLINED,
    Outcome.REQUIRES_ACTION: Step.REQUIRES_ACTION,
}


class Charge:
    def __init__(self, context: Runtime, payment_id: str) -> None:
        self.context = context
        self.payment_id = payment_id

    def run(self) -> None:
        for _ in range(PHASES_MAX):
            record = self.context.payments.load(self.payment_id)
            if record is None:
                logger.error("payment %s has no record; dropping its message", self.payment_id)
                return
            step = Step(record["step"])
            if step in TERMINAL_STEPS:
                return
            self.phase(step, record)
        raise RuntimeError(f"Bug: {self.payment_id} did not settle in {PHASES_MAX} phases")

    def phase(self, step: Step, record: Record) -> None:
        match step:
            case Step.ACCEPTED:
                self.prepare(record)
            case Step.PREPARED:
                self.charge(record)
            case Step.CHARGING | Step.UNKNOWN:
                # A message that finds ``charging`` was cut off mid-call: the provider may have
                # moved the money, so ask before anything else.
                self.reconcile(step, record)
            case Step.CHARGED:
                self.record(record)
            case _:
                raise RuntimeError(f"Bug: unhandled recovery point {step}")

    def provider(self, record: Record) -> Provider:
        """The record's provider, once a call to it fits the rate limits (else ``Defer``)."""
        self.context.throttle.admit(record["provider"])
        return self.context.providers[record["provider"]]

    def advance(self, expected: Step, target: Step, fields: dict[str, str] | None = None) -> bool:
        moved = self.context.payments.advance(self.payment_id, expected, target, fields)
        if not moved:
            logger.info("payment %s moved on elsewhere; re-reading it", self.payment_id)
        return moved

    def prepare(self, record: Record) -> None:
        outcome = self.provider(record).prepare(charge_request(record))
        match outcome.outcome:
            case Outcome.NOT_ATTEMPTED if outcome.provider_reference:
                self.advance(
                    Step.ACCEPTED,
                    Step.PREPARED,
                    {"provider_reference": outcome.provider_reference},
                )
            case Outcome.DECLINED:
                self.advance(Step.ACCEPTED, Step.DECLINED, failure_fields(outcome))
            case Outcome.RATE_LIMITED:
                raise rate_limited(outcome)
            case _:
                # Preparing moves no money, so any other answer is simply tried again.
                raise dramatiq.Retry("prepare did not complete", delay=retry_delay_ms(outcome))

    def charge(self, record: Record) -> None:
        provider = self.provider(record)
        # The point is persisted before the call: whoever finds ``charging`` later must ask the
        # provider rather than charge.
        if not self.advance(Step.PREPARED, Step.CHARGING):
            return
        outcome = provider.charge(charge_request(record), record["provider_reference"])
        if outcome.outcome in (Outcome.RETRYABLE, Outcome.RATE_LIMITED):
            # Known not to have reached the charge: back to prepared, same provider key next time.
            self.advance(Step.CHARGING, Step.PREPARED)
            raise try_again(outcome)
        self.settle(Step.CHARGING, outcome)

    def reconcile(self, step: Step, record: Record) -> None:
        outcome = self.provider(record).lookup(charge_request(record), record["provider_reference"])
        match outcome.outcome:
            case Outcome.NOT_ATTEMPTED:
                # The provider never saw the charge: charging again, under the same provider
                # idempotency key, is safe.
                self.advance(step, Step.PREPARED)
                return
            case Outcome.RATE_LIMITED:
                raise rate_limited(outcome)
        self.settle(step, outcome)

    def settle(self, step: Step, outcome: ChargeOutcome) -> None:
        match outcome.outcome:
            case Outcome.SUCCEEDED | Outcome.DECLINED | Outcome.REQUIRES_ACTION:
                fields = {} if outcome.outcome is Outcome.SUCCEEDED else failure_fields(outcome)
                if outcome.provider_reference:
                    fields["provider_reference"] = outcome.provider_reference
                self.advance(step, SETTLED_STEP[outcome.outcome], fields)
            case (
                Outcome.RETRYABLE
                | Outcome.RATE_LIMITED
                | Outcome.UNKNOWN
                | Outcome.PENDING
                | Outcome.NOT_ATTEMPTED
            ):
                self.advance(step, Step.UNKNOWN)
                # A scheduled lookup, not a failure: it repeats, ever less often, until the
                # provider can tell, and never re-charges blindly.
                raise Defer(
                    "outcome unknown; reconciling",
                    delay=RECONCILE_DELAY_MS,
                    delay_max=RECONCILE_DELAY_MS_MAX,
                )

    def record(self, record: Record) -> None:
        entry = capture_entry(
            payment_id=self.payment_id,
            merchant_id=record["merchant_id"],
            clearing_account=clearing_account(record["provider"], record["currency"]),
            amount=record["amount"],
            currency=record["currency"],
        )
        try:
            recorded = self.context.ledger_writer.record(entry)
        except (SQLAlchemyError, psycopg.Error) as error:
            logger.warning("ledger unavailable for %s: %s", self.payment_id, type(error).__name__)
            # The outcome waits, durably, in the record's ``charged`` point: however long the
            # outage, this is no failure of the payment.
            raise Defer(
                "ledger unavailable",
                delay=LEDGER_RETRY_DELAY_MS,
                delay_max=LEDGER_RETRY_DELAY_MS_MAX,
            ) from None
        self.advance(
            Step.CHARGED,
            Step.RECORDED,
            {"ledger_transaction_id": recorded.transaction_id, "ledger_seq": str(recorded.seq)},
        )


_config = settings()


@dramatiq.actor(
    actor_name=CHARGE_ACTOR,
    queue_name=PAYMENTS_QUEUE,
    max_retries=_config.charge_retries_max,
    min_backoff=_config.charge_backoff_ms_min,
    max_backoff=_config.charge_backoff_ms_max,
    time_limit=_config.charge_time_limit_s * 1000,
)
def charge_payment(payment_id: str) -> None:
    Charge(runtime(), payment_id).run()
