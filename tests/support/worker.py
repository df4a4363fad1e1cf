"""Builders for actor tests: payments accepted into Redis, read back through a runtime."""

import dataclasses
import secrets
import time

import psycopg
import redis.asyncio as aioredis

from actors.charge import Charge
from actors.group_commit import relay_writer
from actors.relay import stored_event
from actors.runtime import Runtime
from app.db import create_engine_for
from app.events.relay import StoredEvent
from app.idempotency import fingerprint
from app.merchants.accept_rate import AcceptRate
from app.payments.record import PaymentRecord, Step, encode_new
from app.payments.request import PaymentRequest
from app.queue import keys
from app.queue.dispatch import PAYMENTS_QUEUE, refund_message
from app.refunds.accept import REFUND_LUA

PARTITIONS = 8
REFUND_AMOUNT = 1000
#: The accept scripts' rate limit, off: these refunds are set-up, not traffic.
NO_ACCEPT_RATE = AcceptRate(rate_per_s=0, burst=0)
UNREACHABLE_DATABASE_URL = "postgresql://postgres@127.0.0.1:1/nowhere"

STRIPE = PaymentRequest(
    amount=2500,
    currency="usd",
    provider="stripe",
    payment_method="pm_card_visa",
    customer={},
    description=None,
    metadata={},
)
PAYSTACK = dataclasses.replace(
    STRIPE,
    currency="ngn",
    provider="paystack",
    payment_method="AUTH_success",
    customer={"email": "ada@example.com"},
)


async def accepted(client: aioredis.Redis, request: PaymentRequest) -> str:
    partition = secrets.randbelow(PARTITIONS)
    payment_id = keys.new_id(keys.PAYMENT_ID_PREFIX, partition)
    merchant_id = f"mer_{secrets.token_hex(4)}"
    record = PaymentRecord(payment_id, merchant_id, int(time.time()), request, Step.ACCEPTED)
    await client.hset(keys.payment_key(partition, payment_id), mapping=encode_new(record))
    return payment_id


async def recorded_payment(runtime: Runtime, request: PaymentRequest) -> str:
    payment_id = await accepted(runtime.redis, request)
    await Charge(runtime, payment_id).run()
    assert (await record_of(runtime, payment_id)).step is Step.RECORDED
    return payment_id


async def accept_refund(runtime: Runtime, payment_id: str, amount: int = REFUND_AMOUNT) -> str:
    """A refund accepted by the real accept script, as the API would."""
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, PARTITIONS)
    assert partition is not None
    refund_id = keys.new_id(keys.REFUND_ID_PREFIX, partition)
    merchant_id = (await record_of(runtime, payment_id)).merchant_id
    script = runtime.redis.register_script(REFUND_LUA)
    result = await script(
        keys=[
            keys.refund_idempotency_key(partition, merchant_id, payment_id, refund_id),
            keys.payment_key(partition, payment_id),
            keys.refund_key(partition, refund_id),
            keys.stream_key(partition, PAYMENTS_QUEUE),
            keys.payment_refunds_key(partition, payment_id),
            keys.accept_rate_key(partition, merchant_id),
        ],
        args=[
            fingerprint({"amount": amount}, f"POST /v1/payments/{payment_id}/refunds"),
            merchant_id,
            amount,
            refund_id,
            int(time.time()),
            3600,
            3600,
            refund_message(refund_id, partition),
            f"/v1/refunds/{refund_id}",
            202,
            *NO_ACCEPT_RATE.arguments(),
        ],
    )
    assert result[0] == b"created", result
    return refund_id


async def record_of(runtime: Runtime, payment_id: str) -> PaymentRecord:
    record = await runtime.payments.load(payment_id)
    assert record is not None
    return record


async def waiting_events(runtime: Runtime, payment_id: str) -> list[StoredEvent]:
    """The events of a payment (its own and its refunds') stored in Redis and not yet relayed,
    in their sequence."""
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, PARTITIONS)
    assert partition is not None
    pattern = keys.event_key(partition, "*")
    events = []
    async for key in runtime.redis.scan_iter(match=pattern):
        raw = await runtime.redis.hgetall(key)
        event_id = key.decode().rpartition(":")[2]
        if raw and raw[b"payment"].decode() == payment_id:
            events.append(stored_event(event_id, raw))
    return sorted(events, key=lambda event: event.seq)


def relayed_events(runtime: Runtime, payment_id: str) -> list[StoredEvent]:
    """The events of a payment the relay has written to PostgreSQL, in their sequence."""
    with psycopg.connect(runtime.settings.database_url) as connection:
        found = connection.execute(
            "SELECT id, type, merchant_id, payment_id, seq, created_ms, body FROM events"
            " WHERE payment_id = %s ORDER BY seq",
            (payment_id,),
        ).fetchall()
    return [StoredEvent(*row) for row in found]


async def events_of(runtime: Runtime, payment_id: str) -> list[StoredEvent]:
    """The events a payment (and its refunds) published, wherever each now is: relayed to
    PostgreSQL or waiting in Redis; in their sequence."""
    relayed = relayed_events(runtime, payment_id)
    written = {event.id for event in relayed}
    waiting = [e for e in await waiting_events(runtime, payment_id) if e.id not in written]
    return sorted([*relayed, *waiting], key=lambda event: event.seq)


def relay_down(runtime: Runtime) -> Runtime:
    """``runtime`` with the relay's PostgreSQL out of reach (the ledger's is not): every event
    its moves publish is handed to the relay's queue."""
    unreachable = relay_writer(create_engine_for(UNREACHABLE_DATABASE_URL))
    return dataclasses.replace(runtime, relay=unreachable)
