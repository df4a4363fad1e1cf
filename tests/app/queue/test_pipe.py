"""The batcher's own pipelined connection, against redis-py's reading of the same replies, on
the real Redis and on private servers it may break."""

import asyncio
import secrets
from collections.abc import Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import AuthenticationError, ConnectionError, NoScriptError, ResponseError

from app.queue.pipe import RedisPipe
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.anyio


def commands_for(prefix: str) -> list[tuple[Any, ...]]:
    """Every command the worker and the web send through a batcher, and a few failures."""
    return [
        ("HSET", f"{prefix}:h", "step", "charging", "amount", "1999"),
        ("HGETALL", f"{prefix}:h"),
        ("HGETALL", f"{prefix}:missing"),
        ("HGET", f"{prefix}:h", "step"),
        ("HMGET", f"{prefix}:h", "step", "nothing"),
        ("EXPIRE", f"{prefix}:h", 60),
        ("XADD", f"{prefix}:s", "MAXLEN", "~", 100, "1-1", "call", "stripe.prepare"),
        ("XRANGE", f"{prefix}:s", "-", "+"),
        ("INCR", f"{prefix}:n"),
        ("EVALSHA", "0" * 40, 0),
        ("INCR", f"{prefix}:h"),
        ("EVAL", "return {1, 'two', {3}}", 0),
    ]


def comparable(reply: object) -> object:
    return (type(reply), str(reply)) if isinstance(reply, Exception) else reply


async def through_pipe(client: aioredis.Redis, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    pipe = RedisPipe(client)
    try:
        return await pipe.execute(commands)
    finally:
        await pipe.aclose()


@pytest.mark.parametrize("protocol", ["", "?protocol=2"], ids=["resp3", "resp2"])
async def test_replies_are_what_redis_py_makes_of_them(redis_url: str, protocol: str) -> None:
    """redis-py speaks RESP3 unless told otherwise, and chooses its callbacks to match."""
    client = aioredis.Redis.from_url(redis_url + protocol)
    ours, theirs = f"pipe:{secrets.token_hex(4)}", f"pipe:{secrets.token_hex(4)}"
    try:
        piped = await through_pipe(client, commands_for(ours))
        pipeline = client.pipeline(transaction=False)
        for command in commands_for(theirs):
            pipeline.execute_command(*command)
        expected = await pipeline.execute(raise_on_error=False)
    finally:
        await client.delete(*(f"{prefix}:{kind}" for prefix in (ours, theirs) for kind in "hsn"))
        await client.aclose()

    assert [comparable(reply) for reply in piped] == [comparable(reply) for reply in expected]
    assert piped[1] == {b"step": b"charging", b"amount": b"1999"}
    assert isinstance(piped[9], NoScriptError) and isinstance(piped[10], ResponseError)


async def test_batches_sent_together_each_get_their_own_replies(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    pipe = RedisPipe(client)
    try:
        batches = [[("ECHO", f"{batch}-{call}") for call in range(7)] for batch in range(300)]
        replies = await asyncio.gather(*(pipe.execute(batch) for batch in batches))
    finally:
        await pipe.aclose()
        await client.aclose()

    assert replies == [[command[1].encode() for command in batch] for batch in batches]


async def test_a_killed_redis_fails_what_was_in_flight_and_a_restarted_one_is_reconnected(
    private_redis: RedisServer,
) -> None:
    client = aioredis.Redis.from_url(private_redis.url)
    pipe = RedisPipe(client)
    try:
        assert await pipe.execute([("SET", "k", "1")]) == [True]
        in_flight = asyncio.ensure_future(pipe.execute([("BLPOP", "never", 5)]))
        # Stopped only once Redis holds the BLPOP: the batch is in flight, not yet unsent.
        while (await client.info("clients"))["blocked_clients"] == 0:
            await asyncio.sleep(0.01)
        private_redis.stop()
        with pytest.raises(ConnectionError):
            await in_flight
        with pytest.raises(ConnectionError):
            await pipe.execute([("GET", "k")])

        private_redis.start()
        assert await pipe.execute([("SET", "k", "2"), ("GET", "k")]) == [True, b"2"]
    finally:
        await pipe.aclose()
        await client.aclose()


async def test_a_password_and_a_database_are_used_and_a_wrong_password_refused(
    private_redis: RedisServer,
) -> None:
    password = secrets.token_hex(8)
    admin = aioredis.Redis.from_url(private_redis.url)
    await admin.config_set("requirepass", password)
    await admin.aclose()
    base = f"redis://:{{}}@127.0.0.1:{private_redis.port}"

    trusted = aioredis.Redis.from_url(base.format(password) + "/3")
    refused = aioredis.Redis.from_url(base.format("wrong") + "/3")
    try:
        assert await through_pipe(trusted, [("SET", "in-3", "yes")]) == [True]
        assert await trusted.get("in-3") == b"yes"
        assert await trusted.execute_command("SELECT", 0) and await trusted.get("in-3") is None
        with pytest.raises(AuthenticationError):
            await through_pipe(refused, [("PING",)])
    finally:
        await trusted.aclose()
        await refused.aclose()


def test_only_a_plain_tcp_client_of_one_redis_is_served() -> None:
    assert RedisPipe.serves(aioredis.Redis.from_url("redis://127.0.0.1:6379/0"))
    assert not RedisPipe.serves(aioredis.Redis.from_url("rediss://127.0.0.1:6379/0"))
    assert not RedisPipe.serves(aioredis.Redis.from_url("unix:///tmp/redis.sock"))
    cluster = RedisCluster(host="127.0.0.1", port=6379)
    assert not RedisPipe.serves(cluster)


async def test_a_server_that_never_greets_back_is_left_closed() -> None:
    """Connected but no answer to HELLO within the connect timeout: a connection error, and
    the half-open connection is closed, not leaked."""
    closed = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client closes
        closed.set()
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=0.3)
    try:
        with pytest.raises(ConnectionError):
            await through_pipe(client, [("PING",)])
        await asyncio.wait_for(closed.wait(), timeout=5)
    finally:
        await client.aclose()
        listener.close()
        await listener.wait_closed()
