"""The delivery actor on real PostgreSQL, Redis and a real HTTP receiver: signed as Standard
Webhooks says, in order per payment, retried on the schedule, Retry-After honoured, 410
disabling the endpoint, never sent twice at once, never to a private address unless allowed."""

import dataclasses
import secrets
from collections.abc import AsyncIterator

import dramatiq
import pytest
from standardwebhooks import Webhook

from actors.middleware.retries import Defer
from actors.runtime import Runtime
from actors.webhooks.deliver import Webhooks, build_webhooks, deliver
from app.queue import keys
from app.queue.dispatch import DELIVER_ACTOR, WEBHOOKS_QUEUE
from app.settings import Settings
from app.webhooks import chain
from app.webhooks.schedule import ATTEMPTS_MAX
from tests.actors.conftest import RuntimeFactory
from tests.support.receiver import Receiver, receiver
from tests.support.webhooks import (
    add_endpoint,
    delivery_of,
    make_due,
    new_payment_id,
    relay_event,
    rows,
)
from tests.support.worker import PARTITIONS, UNREACHABLE_DATABASE_URL

pytestmark = pytest.mark.anyio
__all__ = ["receiver"]

#: Shrinks the schedule's 5 s first retry to 5 ms.
RETRY_SCALE = 0.001


@pytest.fixture
def local_settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, webhook_allow_private_urls=True, webhook_retry_scale=RETRY_SCALE
    )


@pytest.fixture
async def hooks(local_settings: Settings, runtime: Runtime) -> AsyncIterator[Webhooks]:
    built = build_webhooks(local_settings, runtime.database)
    yield built
    await built.sender.aclose()


@dataclasses.dataclass(frozen=True)
class Chain:
    merchant_id: str
    payment_id: str
    endpoint_id: str
    secret: str


def new_chain(settings: Settings, receiver: Receiver) -> Chain:
    merchant_id = f"mer_{secrets.token_hex(4)}"
    endpoint_id, secret = add_endpoint(
        settings.database_url, merchant_id, "*", url=f"{receiver.url}/hooks"
    )
    return Chain(merchant_id, new_payment_id(PARTITIONS), endpoint_id, secret)


async def chain_messages(runtime: Runtime, payment_id: str) -> int:
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, PARTITIONS)
    assert partition is not None
    entries = await runtime.redis.xrange(keys.stream_key(partition, WEBHOOKS_QUEUE))
    messages = [dramatiq.Message.decode(fields[b"m"]) for _, fields in entries]
    return sum(1 for m in messages if m.actor_name == DELIVER_ACTOR and m.args[1] == payment_id)


async def test_a_delivery_is_signed_as_standard_webhooks_says_and_its_attempt_kept(
    local_settings: Settings, runtime: Runtime, hooks: Webhooks, receiver: Receiver
) -> None:
    target = new_chain(local_settings, receiver)
    event = relay_event(
        local_settings.database_url, target.merchant_id, target.payment_id, 1, "payment.succeeded"
    )

    await deliver(runtime, hooks, target.endpoint_id, target.payment_id)

    [delivery] = receiver.wait_for(1)
    verified = Webhook(target.secret).verify(delivery.body, delivery.headers)
    assert verified["id"] == event.id
    assert delivery.body.decode() == event.body
    assert delivery.headers["webhook-id"] == event.id
    assert delivery.headers["webhook-signature"].startswith("v1,")
    assert delivery_of(local_settings.database_url, event.id) == ("succeeded", 1)
    [(status_code, error)] = rows(
        local_settings.database_url,
        "SELECT status_code, error FROM webhook_attempts WHERE event_id = %s",
        event.id,
    )
    assert (status_code, error) == (200, None)


async def test_a_payments_events_arrive_in_order_behind_a_failing_first(
    local_settings: Settings, runtime: Runtime, hooks: Webhooks, receiver: Receiver
) -> None:
    target = new_chain(local_settings, receiver)
    url = local_settings.database_url
    first = relay_event(url, target.merchant_id, target.payment_id, 1, "payment.succeeded")
    second = relay_event(url, target.merchant_id, target.payment_id, 2, "refund.succeeded")
    receiver.refusals = [500]

    with pytest.raises(Defer):
        await deliver(runtime, hooks, target.endpoint_id, target.payment_id)
    await deliver(runtime, hooks, target.endpoint_id, target.payment_id)  # second's message
    # The first's retry may be due already (the schedule is shrunk to ms): never the second.
    waited = [d.headers["webhook-id"] for d in receiver.deliveries]
    make_due(url, first.id)
    await deliver(runtime, hooks, target.endpoint_id, target.payment_id)
    await deliver(runtime, hooks, target.endpoint_id, target.payment_id)  # the chain's next

    assert second.id not in waited
    assert [d.headers["webhook-id"] for d in receiver.wait_for(2)] == [first.id, second.id]
    assert receiver.posts == 3
    assert delivery_of(url, first.id) == ("succeeded", 2)
    assert delivery_of(url, second.id) == ("succeeded", 1)
    assert await chain_messages(runtime, target.payment_id) >= 1


async def test_a_failure_is_retried_after_the_schedule_and_retry_after(
    local_settings: Settings, runtime: Runtime, hooks: Webhooks, receiver: Receiver
) -> None:
    target = new_chain(local_settings, receiver)
    url = local_settings.database_url
    event = relay_event(url, target.merchant_id, target.payment_id, 1, "payment.succeeded")
    receiver.refusals = [503]
    receiver.retry_after = "120"

    with pytest.raises(Defer) as deferred:
        await deliver(runtime, hooks, target.endpoint_id, target.payment_id)

    [(wait_s,)] = rows(
        url,
        "SELECT extract(epoch FROM next_attempt_at - now()) FROM webhook_deliveries"
        " WHERE event_id = %s",
        event.id,
    )
    assert 110 < float(wait_s) <= 120
    assert deferred.value.delay is not None and deferred.value.delay >= 119_000


async def test_a_delivery_fails_for_good_once_the_schedule_runs_out(
    local_settings: Settings, runtime: Runtime, hooks: Webhooks, receiver: Receiver
) -> None:
    target = new_chain(local_settings, receiver)
    url = local_settings.database_url
    event = relay_event(url, target.merchant_id, target.payment_id, 1, "payment.succeeded")
    receiver.refusals = [500] * ATTEMPTS_MAX

    for _ in range(ATTEMPTS_MAX - 1):
        with pytest.raises(Defer):
            await deliver(runtime, hooks, target.endpoint_id, target.payment_id)
        make_due(url, event.id)
    await deliver(runtime, hooks, target.endpoint_id, target.payment_id)

    assert delivery_of(url, event.id) == ("failed", ATTEMPTS_MAX)
    assert receiver.posts == ATTEMPTS_MAX


async def test_410_gone_disables_the_endpoint_and_its_other_deliveries(
    local_settings: Settings, runtime: Runtime, hooks: Webhooks, receiver: Receiver
) -> None:
    target = new_chain(local_settings, receiver)
    url = local_settings.database_url
    first = relay_event(url, target.merchant_id, target.payment_id, 1, "payment.succeeded")
    second = relay_event(url, target.merchant_id, target.payment_id, 2, "refund.succeeded")
    receiver.refusals = [410]

    await deliver(runtime, hooks, target.endpoint_id, target.payment_id)
    await deliver(runtime, hooks, target.endpoint_id, target.payment_id)

    [(status, reason)] = rows(
        url,
        "SELECT status, disabled_reason FROM webhook_endpoints WHERE id = %s",
        target.endpoint_id,
    )
    assert (status, reason) == ("disabled", chain.DISABLED_GONE)
    assert delivery_of(url, first.id) == ("failed", 1)
    assert delivery_of(url, second.id) == ("failed", 0)
    assert receiver.posts == 1


async def test_a_held_delivery_is_not_sent_by_a_second_message(
    local_settings: Settings, runtime: Runtime, hooks: Webhooks, receiver: Receiver
) -> None:
    target = new_chain(local_settings, receiver)
    url = local_settings.database_url
    relay_event(url, target.merchant_id, target.payment_id, 1, "payment.succeeded")
    held = chain.claim(runtime.database, target.endpoint_id, target.payment_id, 60)

    await deliver(runtime, hooks, target.endpoint_id, target.payment_id)

    assert isinstance(held, chain.Claimed)
    assert receiver.posts == 0


async def test_a_private_address_is_refused_at_delivery_unless_allowed(
    settings: Settings, runtime: Runtime, receiver: Receiver
) -> None:
    strict = build_webhooks(settings, runtime.database)
    target = new_chain(settings, receiver)
    url = settings.database_url
    event = relay_event(url, target.merchant_id, target.payment_id, 1, "payment.succeeded")
    try:
        with pytest.raises(Defer):
            await deliver(runtime, strict, target.endpoint_id, target.payment_id)
    finally:
        await strict.sender.aclose()

    [(status_code, error)] = rows(
        url, "SELECT status_code, error FROM webhook_attempts WHERE event_id = %s", event.id
    )
    assert (status_code, error) == (None, "address not allowed")
    assert receiver.posts == 0


async def test_while_postgresql_is_down_the_message_waits(
    local_settings: Settings,
    make_runtime: RuntimeFactory,
    receiver: Receiver,
) -> None:
    cut_off = make_runtime(local_settings, UNREACHABLE_DATABASE_URL)
    hooks = build_webhooks(local_settings, cut_off.database)
    target = new_chain(local_settings, receiver)
    try:
        with pytest.raises(Defer):
            await deliver(cut_off, hooks, target.endpoint_id, target.payment_id)
    finally:
        await hooks.sender.aclose()
    assert receiver.posts == 0


async def test_a_host_resolving_to_a_private_address_is_refused_on_the_address_connected_to(
    settings: Settings, runtime: Runtime, receiver: Receiver
) -> None:
    """The guard sits in the resolver the connection uses: a name (here ``localhost``) that
    resolves to loopback at delivery time is refused, whatever it resolved to when the
    endpoint was registered."""
    strict = build_webhooks(settings, runtime.database)
    merchant_id = f"mer_{secrets.token_hex(4)}"
    port = receiver.url.rsplit(":", 1)[1]
    endpoint_id, _ = add_endpoint(
        settings.database_url, merchant_id, "*", url=f"http://localhost:{port}/hooks"
    )
    payment_id = new_payment_id(PARTITIONS)
    event = relay_event(settings.database_url, merchant_id, payment_id, 1, "payment.succeeded")
    try:
        with pytest.raises(Defer):
            await deliver(runtime, strict, endpoint_id, payment_id)
    finally:
        await strict.sender.aclose()

    [(status_code, error)] = rows(
        settings.database_url,
        "SELECT status_code, error FROM webhook_attempts WHERE event_id = %s",
        event.id,
    )
    assert (status_code, error) == (None, "address not allowed")
    assert receiver.posts == 0
