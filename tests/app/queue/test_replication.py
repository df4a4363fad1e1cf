"""Replicated writes wait for their replicas: on a Redis with none, WAIT times out and the
callers of replicated writes hear ``ReplicasNotAcked``; the others get their replies."""

import asyncio
import secrets

import redis.asyncio as aioredis

from app.queue.batch import Batcher, ReplicasNotAcked, Replication

INCR = 'return redis.call("INCR", KEYS[1])'
WAIT_TIMEOUT_MS = 50


async def run(redis_url: str, replication: Replication) -> list[object]:
    client = aioredis.Redis.from_url(redis_url)
    batcher = Batcher(client, replication)
    counter = f"t:{secrets.token_hex(4)}"
    try:
        calls = [
            batcher.script(INCR, replicated=True)([counter], []),
            batcher.script(INCR)([counter], []),
        ]
        replies = await asyncio.gather(*calls, return_exceptions=True)
        # Read once both writes answered: a GET in their batch is concurrent with them, and
        # runs before them when Redis had to be taught the script (NOSCRIPT, then a rerun).
        return [*replies, await batcher.command("GET", counter)]
    finally:
        await client.delete(counter)
        await client.aclose()


def test_a_replicated_write_no_replica_confirmed_is_refused_to_its_caller(redis_url: str) -> None:
    first, second, read = asyncio.run(run(redis_url, Replication(1, WAIT_TIMEOUT_MS)))

    assert isinstance(first, ReplicasNotAcked)
    # The write ran on the primary all the same: a retry must replay, not claim again.
    assert (second, read) == (2, b"2")


def test_no_wait_when_no_replica_is_asked_for(redis_url: str) -> None:
    assert asyncio.run(run(redis_url, Replication())) == [1, 2, b"2"]
