"""The idempotent refund accept: one Lua call checks the payment, reserves the amount against
what remains, stores the refund and publishes it (``accept.lua`` here)."""

import time
from pathlib import Path

from app import logs
from app.errors import NotFound, PaymentNotRefundable, RefundExceedsPayment
from app.idempotency import ACCEPTED_STATUS, Answer, fingerprint, replayed
from app.merchants.accept_rate import ACCEPT_RATE_LUA_PATH, RateLimitedScript
from app.queue import keys
from app.queue.batch import Batcher
from app.queue.dispatch import PAYMENTS_QUEUE, refund_message
from app.queue.scripts import lua_source
from app.refunds.request import RefundCreate
from app.settings import Settings

REFUND_LUA = lua_source(Path(__file__).parent, "accept", ACCEPT_RATE_LUA_PATH)
#: What the script gets for "refund what remains".
REMAINING_AMOUNT = 0


def refund_operation(payment_id: str) -> str:
    return f"POST /v1/payments/{payment_id}/refunds"


class RefundAcceptor:
    def __init__(self, batcher: Batcher, settings: Settings) -> None:
        self._settings = settings
        self._script = RateLimitedScript(batcher, REFUND_LUA, settings)

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
        script_keys = [
            keys.refund_idempotency_key(partition, merchant_id, payment_id, client_key),
            keys.payment_key(partition, payment_id),
            keys.refund_key(partition, refund_id),
            keys.stream_key(partition, PAYMENTS_QUEUE),
            keys.payment_refunds_key(partition, payment_id),
        ]
        ttls_s = [self._settings.idempotency_key_ttl_s, self._settings.payment_record_ttl_s]
        message = refund_message(refund_id, partition, logs.request_id())
        created_s = int(time.time())
        answer = [message, location, ACCEPTED_STATUS]
        arguments = [expected, merchant_id, amount, refund_id, created_s, *ttls_s, *answer]
        result = await self._script(merchant_id, partition, script_keys, arguments)
        return _answer(result, expected, client_key, payment_id, location)


def _answer(
    result: list[bytes], expected: str, client_key: str, payment_id: str, location: str
) -> Answer:
    match result[0]:
        case b"created":
            return Answer(ACCEPTED_STATUS, result[1], location, replayed=False)
        case b"replay":
            return replayed(result, expected, client_key)
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
