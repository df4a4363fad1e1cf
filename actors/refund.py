"""The refund actor: drives one refund from ``requested`` to its recorded outcome.

Like the charge, a state machine over the refund record's persisted recovery point; each phase
moves it with a compare-and-set, so a retried or reclaimed message resumes where the last
attempt stopped, and money already sent back is never sent again. The amount was reserved on
the payment when the refund was accepted; it becomes ``amount_refunded`` when the refund is
recorded, or is released when the refund fails.

    requested ──refund──▶ refunding ─┬─▶ refunded ──ledger──▶ recorded
        ▲                            ├─▶ failed (reservation released)
        └────── not attempted ───────┴─▶ unknown ──lookup──▶ (any of these)

A refund waits in ``requested`` until its payment's capture is in the ledger, so the ledger
always holds a capture before its refunds. A message that finds ``refunding`` was cut off
mid-call and looks the refund up before anything else. A Paystack refund whose answer was lost
cannot be looked up (Paystack finds refunds only by the id that answer carried): it stays
``unknown``, its amount reserved, and is never sent again; an operator reconciles it.
"""

import logging
from typing import Any

import dramatiq
import psycopg
from sqlalchemy.exc import SQLAlchemyError

from actors.charge import (
    LEDGER_RETRY_DELAY_MS,
    LEDGER_RETRY_DELAY_MS_MAX,
    rate_limited,
    try_again,
)
from actors.refund_state import RefundState, Settlement
from actors.retries import Defer
from actors.runtime import Runtime, runtime
from app.dispatch import PAYMENTS_QUEUE, REFUND_ACTOR
from app.ledger import clearing_account, refund_entry
from app.payment_record import Step
from app.providers.base import ChargeOutcome, Outcome, Provider, RefundRequest
from app.refund_record import TERMINAL_REFUND_STEPS, RefundStep
from app.settings import settings

Record = dict[str, Any]
#: A refund settles in at most this many phases; more means a bug, not bad luck.
PHASES_MAX = 12
#: How long an ambiguous refund waits before we ask the provider what happened. Unlike a
#: charge's, these lookups use the retry budget: a Paystack refund whose answer was lost can
#: never be found, and belongs with an operator (the dead-letter stream) once the budget is spent.
RECONCILE_DELAY_MS = 2_000
logger = logging.getLogger(__name__)


def refund_request(record: Record) -> RefundRequest:
    return RefundRequest(
        refund_id=record["id"],
        payment_id=record["payment_id"],
        provider_reference=record["payment_reference"],
        amount=record["amount"],
        currency=record["currency"],
    )


def reference_fields(outcome: ChargeOutcome) -> dict[str, str]:
    if outcome.provider_reference is None:
        return {}
    return {"provider_refund_reference": outcome.provider_reference}


def failure_fields(outcome: ChargeOutcome) -> dict[str, str]:
    return {
        "failure_code": outcome.failure_code or "refund_failed",
        "failure_message": outcome.failure_message or "",
    }


class Refund:
    def __init__(self, context: Runtime, refund_id: str) -> None:
        self.context = context
        self.refund_id = refund_id
        self.refunds = RefundState(context.redis, context.settings.stream_partitions)

    def run(self) -> None:
        for _ in range(PHASES_MAX):
            record = self.refunds.load(self.refund_id)
            if record is None:
                logger.error("refund %s has no record; dropping its message", self.refund_id)
                return
            step = RefundStep(record["step"])
            if step in TERMINAL_REFUND_STEPS:
                return
            self.phase(step, record)
        raise RuntimeError(f"Bug: {self.refund_id} did not settle in {PHASES_MAX} phases")

    def phase(self, step: RefundStep, record: Record) -> None:
        match step:
            case RefundStep.REQUESTED:
                self.refund(record)
            case RefundStep.REFUNDING | RefundStep.UNKNOWN:
                # The provider may have sent the money back: ask before anything else.
                self.reconcile(step, record)
            case RefundStep.REFUNDED:
                self.record(record)
            case _:
                raise RuntimeError(f"Bug: unhandled refund recovery point {step}")

    def provider(self, record: Record) -> Provider:
        """The record's provider, once a call to it fits the rate limits (else ``Defer``)."""
        self.context.throttle.admit(record["provider"])
        return self.context.providers[record["provider"]]

    def advance(
        self, expected: RefundStep, target: RefundStep, fields: dict[str, str] | None = None
    ) -> bool:
        moved = self.refunds.advance(self.refund_id, expected, target, fields)
        if not moved:
            logger.info("refund %s moved on elsewhere; re-reading it", self.refund_id)
        return moved

    def wait_for_capture(self, record: Record) -> None:
        payment = self.context.payments.load(record["payment_id"])
        if payment is None:
            raise RuntimeError(f"refund {self.refund_id}: payment {record['payment_id']} is gone")
        match Step(payment["step"]):
            case Step.RECORDED:
                return
            case Step.CHARGED:
                raise Defer(
                    "payment not recorded yet",
                    delay=LEDGER_RETRY_DELAY_MS,
                    delay_max=LEDGER_RETRY_DELAY_MS_MAX,
                )
            case step:
                raise RuntimeError(f"Bug: refund {self.refund_id} of a payment at {step}")

    def refund(self, record: Record) -> None:
        self.wait_for_capture(record)
        provider = self.provider(record)
        # Persisted before the call: whoever finds ``refunding`` later must look the refund up.
        if not self.advance(RefundStep.REQUESTED, RefundStep.REFUNDING):
            return
        outcome = provider.refund(refund_request(record))
        if outcome.outcome in (Outcome.RETRYABLE, Outcome.RATE_LIMITED):
            # Known not to have reached the provider's books: back to requested.
            self.advance(RefundStep.REFUNDING, RefundStep.REQUESTED)
            raise try_again(outcome)
        self.settle(RefundStep.REFUNDING, record, outcome)

    def reconcile(self, step: RefundStep, record: Record) -> None:
        reference = record.get("provider_refund_reference")
        outcome = self.provider(record).lookup_refund(refund_request(record), reference)
        match outcome.outcome:
            case Outcome.NOT_ATTEMPTED:
                # Refunding again cannot refund twice (the provider says so): back to requested.
                self.advance(step, RefundStep.REQUESTED)
                return
            case Outcome.RATE_LIMITED:
                raise rate_limited(outcome)
        self.settle(step, record, outcome)

    def settle(self, step: RefundStep, record: Record, outcome: ChargeOutcome) -> None:
        match outcome.outcome:
            case Outcome.SUCCEEDED:
                self.advance(step, RefundStep.REFUNDED, reference_fields(outcome))
            case Outcome.DECLINED:
                fields = reference_fields(outcome) | failure_fields(outcome)
                self.refunds.settle(record, step, RefundStep.FAILED, Settlement.RELEASED, fields)
            case (
                Outcome.RETRYABLE
                | Outcome.RATE_LIMITED
                | Outcome.UNKNOWN
                | Outcome.PENDING
                | Outcome.NOT_ATTEMPTED
                | Outcome.REQUIRES_ACTION
            ):
                self.advance(step, RefundStep.UNKNOWN, reference_fields(outcome))
                raise dramatiq.Retry("refund outcome unknown", delay=RECONCILE_DELAY_MS)

    def record(self, record: Record) -> None:
        entry = refund_entry(
            refund_id=self.refund_id,
            payment_id=record["payment_id"],
            merchant_id=record["merchant_id"],
            clearing_account=clearing_account(record["provider"], record["currency"]),
            amount=record["amount"],
            currency=record["currency"],
        )
        try:
            recorded = self.context.ledger_writer.record(entry)
        except (SQLAlchemyError, psycopg.Error) as error:
            logger.warning("ledger unavailable for %s: %s", self.refund_id, type(error).__name__)
            raise Defer(
                "ledger unavailable",
                delay=LEDGER_RETRY_DELAY_MS,
                delay_max=LEDGER_RETRY_DELAY_MS_MAX,
            ) from None
        fields = {"ledger_transaction_id": recorded.transaction_id, "ledger_seq": str(recorded.seq)}
        self.refunds.settle(
            record, RefundStep.REFUNDED, RefundStep.RECORDED, Settlement.REFUNDED, fields
        )


_config = settings()


@dramatiq.actor(
    actor_name=REFUND_ACTOR,
    queue_name=PAYMENTS_QUEUE,
    max_retries=_config.charge_retries_max,
    min_backoff=_config.charge_backoff_ms_min,
    max_backoff=_config.charge_backoff_ms_max,
    time_limit=_config.charge_time_limit_s * 1000,
)
def refund_payment(refund_id: str) -> None:
    Refund(runtime(), refund_id).run()
