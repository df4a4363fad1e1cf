"""The idempotent accept: one Lua call claims the key, stores the payment and publishes it."""

import time
from pathlib import Path

import msgspec

from app import logs
from app.idempotency import ACCEPTED_STATUS, Answer, fingerprint, replayed
from app.merchants.accept_rate import ACCEPT_RATE_LUA_PATH, RateLimitedScript
from app.payments.record import PaymentRecord, Step, encode_new, view
from app.payments.request import PaymentRequest
from app.queue import keys
from app.queue.batch import Batcher
from app.queue.dispatch import PAYMENTS_QUEUE, charge_message
from app.queue.scripts import lua_source
from app.settings import Settings

ACCEPT_LUA = lua_source(Path(__file__).parent, "accept", ACCEPT_RATE_LUA_PATH)
OPERATION = "POST /v1/payments"


class Acceptor:
    def __init__(self, batcher: Batcher, settings: Settings) -> None:
        self._settings = settings
        self._script = RateLimitedScript(batcher, ACCEPT_LUA, settings)

    async def accept(self, merchant_id: str, client_key: str, request: PaymentRequest) -> Answer:
        partition = keys.partition_for(
            f"{merchant_id}:{client_key}", self._settings.stream_partitions
        )
        payment_id = keys.new_id(keys.PAYMENT_ID_PREFIX, partition)
        record = PaymentRecord(payment_id, merchant_id, int(time.time()), request, Step.ACCEPTED)
        body = msgspec.json.encode(view(record))
        location = f"/v1/payments/{payment_id}"
        expected = fingerprint(request.canonical(), OPERATION)
        fields = [item for pair in encode_new(record).items() for item in pair]
        script_keys = [
            keys.idempotency_key(partition, merchant_id, client_key),
            keys.payment_key(partition, payment_id),
            keys.stream_key(partition, PAYMENTS_QUEUE),
            keys.list_key(partition, merchant_id),
        ]
        ttls_s = [self._settings.idempotency_key_ttl_s, self._settings.payment_record_ttl_s]
        message = charge_message(payment_id, partition, logs.request_id())
        listed = [payment_id, keys.created_ms_of(payment_id, keys.PAYMENT_ID_PREFIX)]
        arguments = [expected, ACCEPTED_STATUS, body, location, *ttls_s, message, *listed]
        result = await self._script(merchant_id, partition, script_keys, arguments, fields)
        if result[0] == b"created":
            return Answer(ACCEPTED_STATUS, body, location, replayed=False)
        return replayed(result, expected, client_key)
