"""The delivery actor: one attempt at the first pending delivery of a payment's events to one
endpoint (a chain), so one payment's events reach an endpoint in the order they happened.

A message names the chain, not the delivery: the relay queues one per event and endpoint, a
finished delivery queues the chain's next, a failed one comes back by ``Defer`` when its retry
is due, and the sweeper (``actors.middleware.webhook_sweep``) queues chains whose message was
lost. However many messages arrive for a chain, the delivery row decides: only a due, free
delivery is claimed, and its worker holds it until its attempt is stored (or the hold runs out,
when that worker died). At least once, then: a worker killed after the receiver's 2xx but
before the attempt is stored sends it again, and receivers deduplicate by ``webhook-id``.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import dramatiq
from sqlalchemy import Engine

from actors.group_commit import GroupCommit
from actors.middleware.retries import Defer, actor_options
from actors.runtime import Runtime, runtime
from actors.webhooks.sender import Sender
from app.history.listing import DATABASE_ERRORS
from app.metrics import WEBHOOK_DELIVERIES
from app.queue import keys
from app.queue.dispatch import DELIVER_ACTOR, WEBHOOKS_QUEUE
from app.settings import WEBHOOK_HOLD_MARGIN_S, RetryPolicy, Settings, settings
from app.webhooks import chain
from app.webhooks.chain import Attempt, Claimed, Finished, Skipped
from app.webhooks.outcomes import PENDING, decide, result_label
from app.webhooks.queueing import chain_messages

#: Failures other than the receiver's (a bug, an unexpected error): the receiver's own are
#: retried on the webhook schedule by the delivery row, outside this budget.
DELIVER_POLICY = RetryPolicy(
    retries_max=20,
    backoff_ms_min=1_000,
    backoff_ms_max=60_000,
    time_limit_s=settings().webhook_timeout_s + WEBHOOK_HOLD_MARGIN_S,
)
#: How long to wait for PostgreSQL, doubling up to the maximum.
DATABASE_RETRY_MS = 1_000
DATABASE_RETRY_MS_MAX = 15_000
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Webhooks:
    """What the delivery actor shares between its messages in flight."""

    database: Engine
    sender: Sender
    #: Attempts and their outcomes, a batch per transaction.
    attempts: GroupCommit[Finished, bool]
    hold_s: float
    retry_scale: float


def build_webhooks(config: Settings, database: Engine) -> Webhooks:
    return Webhooks(
        database=database,
        sender=Sender(config.webhook_timeout_s, config.webhook_allow_private_urls),
        attempts=GroupCommit(database, chain.finish, _NeverRefused),
        hold_s=config.webhook_timeout_s + WEBHOOK_HOLD_MARGIN_S,
        retry_scale=config.webhook_retry_scale,
    )


class _NeverRefused(Exception):
    """Attempts have no constraint one row could break alone; there is nothing to isolate."""


@cache
def webhooks() -> Webhooks:
    return build_webhooks(settings(), runtime().database)


async def queue_chain(context: Runtime, endpoint_id: str, payment_id: str) -> None:
    chains = [(endpoint_id, payment_id)]
    [(stream, message)] = chain_messages(context.settings.stream_partitions, chains)
    await context.batcher.command("XADD", stream, "*", keys.MESSAGE_FIELD, message)


async def _claim(hooks: Webhooks, endpoint_id: str, payment_id: str) -> chain.Head:
    try:
        return await asyncio.to_thread(
            chain.claim, hooks.database, endpoint_id, payment_id, hooks.hold_s
        )
    except DATABASE_ERRORS as error:
        logger.warning("PostgreSQL unavailable for %s: %s", payment_id, type(error).__name__)
        raise Defer(
            "PostgreSQL unavailable", delay=DATABASE_RETRY_MS, delay_max=DATABASE_RETRY_MS_MAX
        ) from None


async def _attempt(hooks: Webhooks, claimed: Claimed, payment_id: str) -> Finished:
    attempted_at = datetime.now(UTC)
    answer = await hooks.sender.send(claimed.url, claimed.secret, claimed.event_id, claimed.body)
    attempt = Attempt(
        event_id=claimed.event_id,
        endpoint_id=claimed.endpoint_id,
        attempted_at=attempted_at,
        status_code=answer.status_code,
        latency_ms=answer.latency_ms,
        response_head=answer.response_head,
        error=answer.error,
    )
    return decide(attempt, payment_id, claimed.attempts, answer.retry_after_s, hooks.retry_scale)


async def deliver(context: Runtime, hooks: Webhooks, endpoint_id: str, payment_id: str) -> None:
    head = await _claim(hooks, endpoint_id, payment_id)
    if isinstance(head, Skipped):
        logger.info("%s not delivered to %s: endpoint gone", head.event_id, endpoint_id)
        await queue_chain(context, endpoint_id, payment_id)
        return
    if not isinstance(head, Claimed):
        # Nothing pending, or not due, or in flight elsewhere: another message brings it.
        return
    finished = await _attempt(hooks, head, payment_id)
    goes_on = await hooks.attempts.durably(finished, head.event_id)
    WEBHOOK_DELIVERIES.labels(result_label(finished)).inc()
    if goes_on:
        await queue_chain(context, endpoint_id, payment_id)
    if finished.status == PENDING and finished.retry_in_s is not None:
        raise Defer(f"{head.event_id} retried on schedule", delay=int(finished.retry_in_s * 1000))


@dramatiq.actor(
    actor_name=DELIVER_ACTOR,
    queue_name=WEBHOOKS_QUEUE,
    **actor_options(DELIVER_POLICY),
)
async def deliver_webhook(endpoint_id: str, payment_id: str) -> None:
    await deliver(runtime(), webhooks(), endpoint_id, payment_id)
