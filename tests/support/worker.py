"""Builders for actor tests: payments accepted into Redis, a worker runtime around them."""

import dataclasses
import secrets
import time

import redis

from actors.runtime import Runtime
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


def accepted(client: redis.Redis, request: PaymentRequest) -> str:
    partition = secrets.randbelow(PARTITIONS)
    payment_id = keys.new_id(keys.PAYMENT_ID_PREFIX, partition)
    merchant_id = f"mer_{secrets.token_hex(4)}"
    record = PaymentRecord(payment_id, merchant_id, int(time.time()), request, Step.ACCEPTED)
    client.hset(keys.payment_key(partition, payment_id), mapping=encode_new(record))
    return payment_id


def record_of(runtime: Runtime, payment_id: str) -> PaymentRecord:
    record = runtime.payments.load(payment_id)
    assert record is not None
    return record
