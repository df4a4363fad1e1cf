"""Builders for actor tests: payments accepted into Redis, read back through a runtime."""

import dataclasses
import secrets
import time

import redis.asyncio as aioredis

from actors.runtime import Runtime
from app.events.outbox import OutboxEvent, from_outbox
from app.payments.record import PaymentRecord, Step, encode_new
from app.payments.request import PaymentRequest
from app.queue import keys

PARTITIONS = 8
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


async def record_of(runtime: Runtime, payment_id: str) -> PaymentRecord:
    record = await runtime.payments.load(payment_id)
    assert record is not None
    return record


async def events_of(runtime: Runtime, payment_id: str) -> list[OutboxEvent]:
    """The events of a payment (its own and its refunds') in its partition's outbox, in order."""
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, PARTITIONS)
    assert partition is not None
    entries = await runtime.redis.xrange(keys.outbox_key(partition))
    events = [from_outbox(fields) for _, fields in entries]
    return [event for event in events if event.payment_id == payment_id]
