"""The idempotent refund accept: one Lua call checks the payment, reserves the amount against
what remains, stores the refund and publishes it (``lua/refund.lua``)."""

import time
from pathlib import Path

import redis.asyncio as aioredis

from app import keys
from app.accept import ACCEPTED_STATUS, REDIS_UNAVAILABLE_ERRORS, Answer, unavailable
from app.dispatch import PAYMENTS_QUEUE, refund_message
from app.errors import IdempotencyKeyReused, NotFound, PaymentNotRefundable, RefundExceedsPayment
from app.idempotency import fingerprint
from app.refund_request import RefundCreate
from app.script_batch import ScriptBatcher
from app.settings import Settings

REFUND_LUA = (Path(__file__).parent / "lua" / "refund.lua").read_text()
#: What the script gets for "refund what remains".
REMAINING_AMOUNT = 0


def refund_operation(payment_id: str) -> str:
    return f"POST /v1/payments/{payment_id}/refunds"


class RefundAcceptor:
    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self._settings = settings
        self._script = ScriptBatcher(client, REFUND_LUA)

    def partition_of_payment(self, payment_id: str) -> int:
        partition = keys.partition_of(
            payment_id, keys.PAYMENT_ID_PREFIX, self._settings.stream_partitions
        )
        if partition is None:
            raise NotFound(f"No payment '{payment_id}'.")
        return partition

    async def accept(
        self, merchant_id: str, client_key: str, payment_id: str, request: RefundCreate
    ) -> Answer:
        partition = self.partition_of_payment(payment_id)
        refund_id = keys.new_id(keys.REFUND_ID_PREFIX, partition)
        location = f"/v1/refunds/{refund_id}"
        expected = fingerprint(request.canonical(), refund_operation(payment_id))
        amount = REMAINING_AMOUNT if request.amount is None else request.amount
        try:
            result = await self._script(
                [
                    keys.refund_idempotency_key(partition, merchant_id, payment_id, client_key),
                    keys.payment_key(partition, payment_id),
                    keys.refund_key(partition, refund_id),
                    keys.stream_key(partition, PAYMENTS_QUEUE),
                ],
                [
                    expected,
                    merchant_id,
                    amount,
                    refund_id,
                    int(time.time()),
                    self._settings.idempotency_key_ttl_s,
                    self._settings.payment_record_ttl_s,
                    refund_message(refund_id, partition),
                    location,
                    ACCEPTED_STATUS,
                ],
            )
        except REDIS_UNAVAILABLE_ERRORS:
            raise unavailable() from None
        return _answer(result, expected, client_key, payment_id, location)


def _answer(
    result: list[bytes], expected: str, client_key: str, payment_id: str, location: str
) -> Answer:
    match result[0]:
        case b"created":
            return Answer(ACCEPTED_STATUS, result[1], location, replayed=False)
        case b"replay":
            return _replay(result, expected, client_key)
        case b"not_found":
            raise NotFound(f"No payment '{payment_id}'.")
        case b"not_refundable":
            raise PaymentNotRefundable(
                f"Payment '{payment_id}' has not succeeded, so it cannot be refunded yet."
            )
        case b"exceeds":
            remaining = int(result[1])
            raise RefundExceedsPayment(
                f"The refund exceeds what remains of payment '{payment_id}' ({remaining})."
            )
        case unexpected:
            raise RuntimeError(f"Bug: refund script answered {unexpected!r}")


def _replay(result: list[bytes], expected: str, client_key: str) -> Answer:
    _, stored_fingerprint, status, body, location = result
    if stored_fingerprint.decode() != expected:
        raise IdempotencyKeyReused(
            f"Idempotency-Key '{client_key}' was already used with a different payload."
        )
    return Answer(int(status), body, location.decode(), replayed=True)
