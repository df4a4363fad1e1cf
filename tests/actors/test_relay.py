"""The relay on real Redis and PostgreSQL: each event lands once, with the history it
announces and its deliveries, however often and in whatever order it is relayed; the worker
that publishes an event relays it, and hands it to the relay's queue only when it cannot."""

import json
import secrets

import dramatiq
import psycopg
import pytest

from actors.charge import Charge
from actors.middleware.retries import Defer
from actors.refund import Refund
from actors.relay import relay
from actors.runtime import Runtime
from actors.state import Transition
from app.payments.record import Step, view
from app.queue import keys
from app.queue.dispatch import DELIVER_ACTOR, EVENTS_QUEUE, WEBHOOKS_QUEUE
from app.settings import Settings
from tests.actors.conftest import RuntimeFactory
from tests.support import webhooks
from tests.support.worker import (
    PARTITIONS,
    STRIPE,
    UNREACHABLE_DATABASE_URL,
    accept_refund,
    accepted,
    events_of,
    record_of,
    recorded_payment,
    relay_down,
    relayed_events,
    waiting_events,
)

pytestmark = pytest.mark.anyio


def rows(runtime: Runtime, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(runtime.settings.database_url) as connection:
        return connection.execute(query, params).fetchall()


def history_of(runtime: Runtime, payment_id: str) -> tuple[str, int, dict[str, object]]:
    [(status, event_seq, body)] = rows(
        runtime, "SELECT status, event_seq, body FROM payments WHERE id = %s", payment_id
    )
    assert isinstance(status, str) and isinstance(event_seq, int) and isinstance(body, str)
    return status, event_seq, json.loads(body)


def add_endpoint(runtime: Runtime, merchant_id: str, *enabled_events: str) -> str:
    return webhooks.add_endpoint(runtime.settings.database_url, merchant_id, *enabled_events)[0]


async def deliver_messages(runtime: Runtime, payment_id: str) -> list[tuple[str, ...]]:
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, PARTITIONS)
    assert partition is not None
    entries = await runtime.redis.xrange(keys.stream_key(partition, WEBHOOKS_QUEUE))
    messages = [dramatiq.Message.decode(fields[b"m"]) for _, fields in entries]
    return [m.args for m in messages if m.actor_name == DELIVER_ACTOR and m.args[1] == payment_id]


async def test_an_event_lands_once_with_its_history_however_often_it_is_relayed(
    runtime: Runtime,
) -> None:
    payment_id = await recorded_payment(relay_down(runtime), STRIPE)
    [event] = await waiting_events(runtime, payment_id)

    await relay(runtime, event.id)
    await relay(runtime, event.id)  # a second message for the same event

    [(event_type, seq, body)] = rows(
        runtime, "SELECT type, seq, body FROM events WHERE payment_id = %s", payment_id
    )
    assert (event_type, seq, body) == ("payment.succeeded", 1, event.body)
    record = await record_of(runtime, payment_id)
    assert history_of(runtime, payment_id) == ("succeeded", 1, view(record))
    assert await waiting_events(runtime, payment_id) == []  # relayed events leave Redis


async def test_the_history_comes_from_the_event_once_the_record_has_left_redis(
    runtime: Runtime,
) -> None:
    payment_id = await recorded_payment(relay_down(runtime), STRIPE)
    [event] = await waiting_events(runtime, payment_id)
    payment = view(await record_of(runtime, payment_id))
    await runtime.redis.delete(runtime.payments.key(payment_id))

    await relay(runtime, event.id)

    assert history_of(runtime, payment_id) == ("succeeded", 1, payment)


async def test_events_relayed_out_of_order_never_roll_the_history_back(
    runtime: Runtime,
) -> None:
    payment_id = await recorded_payment(relay_down(runtime), STRIPE)
    refund_id = await accept_refund(runtime, payment_id, STRIPE.amount)
    await Refund(relay_down(runtime), refund_id).run()
    succeeded, refunded = await waiting_events(runtime, payment_id)
    assert (succeeded.type, refunded.type) == ("payment.succeeded", "refund.succeeded")

    await relay(runtime, refunded.id)
    after_refund = history_of(runtime, payment_id)
    await runtime.redis.delete(runtime.payments.key(payment_id))
    await relay(runtime, succeeded.id)  # the earlier event, relayed late, from its own copy

    assert after_refund[:2] == ("refunded", 2)
    assert history_of(runtime, payment_id) == after_refund
    [(refund_status, refund_body)] = rows(
        runtime, "SELECT status, body FROM refunds WHERE id = %s", refund_id
    )
    assert refund_status == "succeeded"
    assert json.loads(str(refund_body)) == json.loads(refunded.body)["data"]["object"]
    assert [
        seq
        for (seq,) in rows(
            runtime, "SELECT seq FROM events WHERE payment_id = %s ORDER BY seq", payment_id
        )
    ] == [1, 2]


async def test_a_refund_moves_the_payments_history_to_refunded(runtime: Runtime) -> None:
    payment_id = await recorded_payment(relay_down(runtime), STRIPE)
    refund_id = await accept_refund(runtime, payment_id, STRIPE.amount)
    await Refund(relay_down(runtime), refund_id).run()

    for event in await waiting_events(runtime, payment_id):
        await relay(runtime, event.id)

    status, event_seq, body = history_of(runtime, payment_id)
    assert (status, event_seq, body["amount_refunded"]) == ("refunded", 2, STRIPE.amount)


async def test_deliveries_go_to_the_merchants_subscribed_endpoints_only(
    runtime: Runtime,
) -> None:
    payment_id = await recorded_payment(relay_down(runtime), STRIPE)
    merchant_id = (await record_of(runtime, payment_id)).merchant_id
    subscribed = add_endpoint(runtime, merchant_id, "payment.succeeded")
    everything = add_endpoint(runtime, merchant_id, "*")
    add_endpoint(runtime, merchant_id, "payment.failed")
    add_endpoint(runtime, f"mer_{secrets.token_hex(4)}", "*")  # someone else's
    [event] = await waiting_events(runtime, payment_id)

    await relay(runtime, event.id)
    await relay(runtime, event.id)

    deliveries = rows(
        runtime,
        "SELECT endpoint_id, seq, status FROM webhook_deliveries WHERE event_id = %s",
        event.id,
    )
    assert sorted(deliveries) == sorted([(subscribed, 1, "pending"), (everything, 1, "pending")])
    queued = await deliver_messages(runtime, payment_id)
    assert {endpoint for endpoint, _ in queued} == {subscribed, everything}


async def test_while_postgresql_is_down_the_event_waits_in_redis(
    settings: Settings, runtime: Runtime, make_runtime: RuntimeFactory
) -> None:
    payment_id = await recorded_payment(relay_down(runtime), STRIPE)
    [event] = await waiting_events(runtime, payment_id)
    cut_off = make_runtime(settings, UNREACHABLE_DATABASE_URL)

    with pytest.raises(Defer):
        await relay(cut_off, event.id)

    assert await waiting_events(runtime, payment_id) == [event]
    await relay(runtime, event.id)
    assert history_of(runtime, payment_id)[0] == "succeeded"


async def relay_queue(runtime: Runtime, payment_id: str) -> list[str]:
    """The payment's events the relay's queue holds messages for."""
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, PARTITIONS)
    assert partition is not None
    entries = await runtime.redis.xrange(keys.stream_key(partition, EVENTS_QUEUE))
    queued = [str(dramatiq.Message.decode(fields[b"m"]).args[0]) for _, fields in entries]
    mine = {event.id for event in await events_of(runtime, payment_id)}
    return [event_id for event_id in queued if event_id in mine]


async def test_the_worker_that_moves_a_payment_relays_its_event_with_no_second_message(
    runtime: Runtime,
) -> None:
    payment_id = await recorded_payment(runtime, STRIPE)

    [event] = relayed_events(runtime, payment_id)
    assert event.type == "payment.succeeded"
    assert history_of(runtime, payment_id)[:2] == ("succeeded", 1)
    assert await waiting_events(runtime, payment_id) == []
    assert await relay_queue(runtime, payment_id) == []
    assert (await record_of(runtime, payment_id)).relay_pending is None


async def test_an_event_whose_mover_died_before_relaying_it_is_relayed_by_the_rerun(
    runtime: Runtime,
) -> None:
    payment_id = await accepted(runtime.redis, STRIPE)
    record = await record_of(runtime, payment_id)
    declined = Transition(Step.DECLINED, {"failure_code": "card_declined"})
    await runtime.payments.apply(record, declined)  # the move, then the worker dies
    [event] = await waiting_events(runtime, payment_id)
    assert (await record_of(runtime, payment_id)).relay_pending == event.id

    await Charge(runtime, payment_id).run()  # the reclaimed message

    assert [e.id for e in relayed_events(runtime, payment_id)] == [event.id]
    assert await waiting_events(runtime, payment_id) == []
    assert (await record_of(runtime, payment_id)).relay_pending is None
    assert await relay_queue(runtime, payment_id) == []


async def test_while_postgresql_is_down_the_mover_hands_its_event_to_the_relays_queue(
    runtime: Runtime,
) -> None:
    payment_id = await recorded_payment(relay_down(runtime), STRIPE)

    [event] = await waiting_events(runtime, payment_id)
    assert await relay_queue(runtime, payment_id) == [event.id]
    assert (await record_of(runtime, payment_id)).relay_pending is None
    await relay(runtime, event.id)  # the relay actor, once PostgreSQL is back
    assert [e.id for e in relayed_events(runtime, payment_id)] == [event.id]
    assert await waiting_events(runtime, payment_id) == []


async def test_an_event_still_unrelayed_when_the_next_is_published_goes_to_the_queue(
    runtime: Runtime,
) -> None:
    payment_id = await accepted(runtime.redis, STRIPE)
    record = await record_of(runtime, payment_id)
    waiting = await runtime.payments.apply(record, Transition(Step.REQUIRES_ACTION))
    assert waiting.record is not None
    await runtime.payments.apply(waiting.record, Transition(Step.DECLINED))
    first, second = await waiting_events(runtime, payment_id)
    assert (first.type, second.type) == ("payment.requires_action", "payment.failed")
    assert await relay_queue(runtime, payment_id) == [first.id]
    assert (await record_of(runtime, payment_id)).relay_pending == second.id

    await Charge(runtime, payment_id).run()
    await relay(runtime, first.id)

    assert [e.id for e in relayed_events(runtime, payment_id)] == [first.id, second.id]
    assert await waiting_events(runtime, payment_id) == []
    assert history_of(runtime, payment_id)[:2] == ("failed", 2)
