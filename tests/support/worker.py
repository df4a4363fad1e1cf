"""Builders for actor tests: payments accepted into Redis, a worker runtime around them."""

import dataclasses
import secrets
import time
from typing import Any

import redis

from actors.ledger_writer import LedgerWriter
from actors.payment_state import PaymentState
from actors.runtime import Runtime
from actors.throttle import Throttle
from app import keys
from app.db import create_engine_for
from app.payment_record import encode, new_record
from app.payment_request import PaymentRequest
from app.providers.registry import PROVIDER_NAMES, build_provider
from app.settings import Settings

PARTITIONS = 8
UNREACHABLE_DATABASE_URL = "postgresql://postgres@127.0.0.1:1/nowhere"


def build_runtime(settings: Settings, client: redis.Redis, database_url: str) -> Runtime:
    engine = create_engine_for(database_url)
    return Runtime(
        settings=settings,
        redis=client,
        payments=PaymentState(client, settings.stream_partitions),
        providers={name: build_provider(name, settings) for name in PROVIDER_NAMES},
        throttle=Throttle(client, settings),
        ledger=engine,
        ledger_writer=LedgerWriter(engine),
    )


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
    record = new_record(payment_id, f"mer_{secrets.token_hex(4)}", request, int(time.time()))
    client.hset(keys.payment_key(partition, payment_id), mapping=encode(record))
    return payment_id


def record_of(runtime: Runtime, payment_id: str) -> dict[str, Any]:
    record = runtime.payments.load(payment_id)
    assert record is not None
    return record
