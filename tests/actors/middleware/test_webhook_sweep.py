"""The sweeper on real PostgreSQL and Redis: a due delivery whose message was lost is queued
again, once per few intervals, and only the first of its chain."""

import dataclasses
import secrets

import dramatiq
import redis

from actors.middleware.webhook_sweep import OVERDUE_INTERVALS, sweep_once
from app.db import create_engine_for
from app.queue import keys
from app.queue.dispatch import DELIVER_ACTOR, WEBHOOKS_QUEUE
from app.settings import Settings
from tests.support.webhooks import add_endpoint, new_payment_id, relay_event, rows
from tests.support.worker import PARTITIONS

SWEEP_INTERVAL_S = 0.05


def overdue(settings: Settings, payment_id: str) -> None:
    rows(
        settings.database_url,
        "UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 hour'"
        " WHERE payment_id = %s RETURNING 1",
        payment_id,
    )


def queued(client: redis.Redis, payment_id: str) -> list[tuple[object, ...]]:
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, PARTITIONS)
    assert partition is not None
    entries = client.xrange(keys.stream_key(partition, WEBHOOKS_QUEUE))
    messages = [dramatiq.Message.decode(fields[b"m"]) for _, fields in entries]
    return [m.args for m in messages if m.actor_name == DELIVER_ACTOR and m.args[1] == payment_id]


def test_a_lost_chain_is_queued_once_until_it_is_overdue_again(
    settings: Settings, redis_client: redis.Redis
) -> None:
    config = dataclasses.replace(settings, webhook_sweep_interval_s=SWEEP_INTERVAL_S)
    merchant_id = f"mer_{secrets.token_hex(4)}"
    endpoint_id, _ = add_endpoint(config.database_url, merchant_id, "*")
    payment_id = new_payment_id(PARTITIONS)
    for seq in (1, 2):
        relay_event(config.database_url, merchant_id, payment_id, seq, "payment.succeeded")
    overdue(config, payment_id)
    engine = create_engine_for(config.database_url)
    client = redis.Redis.from_url(config.redis_url)
    try:
        sweep_once(config, engine, client)
        sweep_once(config, engine, client)  # just queued: not overdue again yet
        first = queued(redis_client, payment_id)
        rows(
            config.database_url,
            "UPDATE webhook_deliveries SET next_attempt_at = now() - make_interval(secs => %s)"
            " WHERE payment_id = %s RETURNING 1",
            SWEEP_INTERVAL_S * OVERDUE_INTERVALS * 2,
            payment_id,
        )
        sweep_once(config, engine, client)
    finally:
        engine.dispose()
        client.close()

    assert first == [(endpoint_id, payment_id)]  # one chain, though two deliveries are due
    assert queued(redis_client, payment_id) == [(endpoint_id, payment_id)] * 2
