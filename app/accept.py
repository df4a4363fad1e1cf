"""The idempotent accept: one Lua call claims the key, stores the payment and publishes it."""

import json
import time
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from app import keys
from app.dispatch import PAYMENTS_QUEUE, charge_message
from app.errors import IdempotencyKeyReused, Unavailable
from app.idempotency import fingerprint
from app.payment_record import encode, new_record, view
from app.payment_request import PaymentRequest
from app.script_batch import ScriptBatcher
from app.settings import Settings

ACCEPT_LUA = (Path(__file__).parent / "lua" / "accept.lua").read_text()
ACCEPTED_STATUS = 202
#: What a client is told to wait before retrying when Redis cannot take the payment.
UNAVAILABLE_RETRY_AFTER_S = 1
#: Redis errors after which nothing was stored, so a retry with the same key is safe.
REDIS_UNAVAILABLE_ERRORS = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
    redis_errors.ReadOnlyError,
    redis_errors.OutOfMemoryError,
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    location: str
    replayed: bool


def unavailable() -> Unavailable:
    return Unavailable(
        "The payment could not be stored; nothing was charged. Retry with the same key.",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
    )


def _encode_body(payment: dict[str, object]) -> bytes:
    return json.dumps(payment, separators=(",", ":")).encode()


class Acceptor:
    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self._settings = settings
        self._script = ScriptBatcher(client, ACCEPT_LUA)

    async def accept(self, merchant_id: str, client_key: str, request: PaymentRequest) -> Answer:
        partition = keys.partition_for(
            f"{merchant_id}:{client_key}", self._settings.stream_partitions
        )
        payment_id = keys.new_id(keys.PAYMENT_ID_PREFIX, partition)
        record = new_record(payment_id, merchant_id, request, int(time.time()))
        body = _encode_body(view(record))
        location = f"/v1/payments/{payment_id}"
        expected = fingerprint(request.canonical(), "POST /v1/payments")
        fields = [item for pair in encode(record).items() for item in pair]
        try:
            result = await self._script(
                [
                    keys.idempotency_key(partition, merchant_id, client_key),
                    keys.payment_key(partition, payment_id),
                    keys.stream_key(partition, PAYMENTS_QUEUE),
                ],
                [
                    expected,
                    ACCEPTED_STATUS,
                    body,
                    location,
                    self._settings.idempotency_key_ttl_s,
                    self._settings.payment_record_ttl_s,
                    charge_message(payment_id, partition),
                    *fields,
                ],
            )
        except REDIS_UNAVAILABLE_ERRORS:
            raise unavailable() from None
        if result[0] == b"created":
            return Answer(ACCEPTED_STATUS, body, location, replayed=False)
        return self._replay(result, expected, client_key)

    @staticmethod
    def _replay(result: list[bytes], expected: str, client_key: str) -> Answer:
        _, stored_fingerprint, status, body, location = result
        if stored_fingerprint.decode() != expected:
            raise IdempotencyKeyReused(
                f"Idempotency-Key '{client_key}' was already used with a different payload."
            )
        return Answer(int(status), body, location.decode(), replayed=True)
