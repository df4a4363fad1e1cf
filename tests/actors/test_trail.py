"""A payment's trail, as the console's timeline reads it: every recovery point stored and
every provider call, in order, written by the real worker code on real Redis."""

import pytest
import redis

from actors.refund import Refund
from actors.runtime import Runtime
from app.console.data import timeline
from tests.support.worker import PARTITIONS, STRIPE, accept_refund, recorded_payment

pytestmark = pytest.mark.anyio


async def test_the_timeline_shows_each_move_and_call_of_a_payment_and_its_refund(
    runtime: Runtime,
) -> None:
    payment_id = await recorded_payment(runtime, STRIPE)
    refund_id = await accept_refund(runtime, payment_id)
    await Refund(runtime, refund_id).run()

    client = redis.Redis.from_url(runtime.settings.redis_url)
    entries = timeline(client, payment_id, PARTITIONS)
    client.close()

    assert [entry.point for entry in entries] == [
        "stripe.prepare",
        "charging",
        "stripe.charge",
        "charged",
        "recorded",
        "refunding",
        "stripe.refund",
        "refunded",
        "recorded",
    ]
    assert entries[2].note.startswith("succeeded in ")
    assert entries[4].note == f"{payment_id}: from charged; event " + entries[4].note.split()[-1]
    assert entries[-1].note.startswith(f"{refund_id}: from refunded; event evt_")
    assert [entry.at for entry in entries] == sorted(entry.at for entry in entries)
