"""The batcher on the real Redis: every caller gets its own reply, whatever happens."""

import asyncio
import secrets
import signal

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.queue.batch import BATCH_CALLS_MAX, Batcher
from app.queue.connection import worker_async_client
from app.settings import load
from tests.support.redis_server import RedisServer

ECHO_INCR = """
if ARGV[1] == "fail" then return redis.error_reply("asked to fail") end
return {ARGV[1], redis.call("INCR", KEYS[1])}
"""


async def run_calls(redis_url: str, arguments: list[str], counter: str) -> list[object]:
    client = aioredis.Redis.from_url(redis_url)
    batcher = Batcher(client).script(ECHO_INCR)
    try:
        calls = [batcher([counter], [argument]) for argument in arguments]
        return await asyncio.gather(*calls, return_exceptions=True)
    finally:
        await client.delete(counter)
        await client.aclose()


def test_concurrent_callers_each_get_their_own_reply(redis_url: str) -> None:
    arguments = [f"call-{index}" for index in range(BATCH_CALLS_MAX * 2 + 7)]

    replies = asyncio.run(run_calls(redis_url, arguments, f"t:{secrets.token_hex(4)}"))

    assert [reply[0].decode() for reply in replies] == arguments  # type: ignore[index]
    counts = sorted(reply[1] for reply in replies)  # type: ignore[index]
    assert counts == list(range(1, len(arguments) + 1)), "every script ran exactly once"


def test_one_callers_error_stays_its_own(redis_url: str) -> None:
    replies = asyncio.run(run_calls(redis_url, ["a", "fail", "b"], f"t:{secrets.token_hex(4)}"))

    assert isinstance(replies[1], ResponseError)
    assert [replies[0][0], replies[2][0]] == [b"a", b"b"]  # type: ignore[index]


def test_a_forgotten_script_is_loaded_again_and_runs_once(private_redis: RedisServer) -> None:
    """As after a Redis restart: SCRIPT FLUSH (on a private server; it is server-wide)."""

    async def scenario() -> list[object]:
        client = aioredis.Redis.from_url(private_redis.url)
        batcher = Batcher(client).script(ECHO_INCR)
        counter = f"t:{secrets.token_hex(4)}"
        await client.script_flush()
        try:
            return await asyncio.gather(*(batcher([counter], [str(i)]) for i in range(5)))
        finally:
            await client.delete(counter)
            await client.aclose()

    replies = asyncio.run(scenario())

    assert sorted(reply[1] for reply in replies) == [1, 2, 3, 4, 5]  # type: ignore[index]


def test_an_unreachable_redis_fails_every_caller() -> None:
    async def scenario() -> list[object]:
        client = aioredis.Redis.from_url("redis://127.0.0.1:1/0")
        batcher = Batcher(client).script(ECHO_INCR)
        try:
            return await asyncio.gather(
                *(batcher(["t:none"], [str(i)]) for i in range(3)), return_exceptions=True
            )
        finally:
            await client.aclose()

    replies = asyncio.run(scenario())

    assert all(isinstance(reply, ConnectionError) for reply in replies), replies


def test_a_redis_that_stops_answering_times_the_batch_out_and_the_next_one_goes_through(
    private_redis: RedisServer,
) -> None:
    """The worker's client reads without a socket timeout: the batch's own bound is all."""
    timeout_s = 0.3

    async def scenario() -> tuple[BaseException | None, object]:
        client = worker_async_client(load({"REDIS_URL": private_redis.url}))
        batcher = Batcher(client, timeout_s=timeout_s)
        try:
            await batcher.command("PING")
            private_redis.process.kill(signal.SIGSTOP)  # frozen, its socket open
            try:
                failure: BaseException | None = None
                await batcher.command("SET", "t:frozen", "1")
            except RedisTimeoutError as error:
                failure = error
            finally:
                private_redis.process.kill(signal.SIGCONT)
            return failure, await batcher.command("PING")
        finally:
            await client.aclose()

    failure, after = asyncio.run(scenario())

    assert isinstance(failure, RedisTimeoutError)
    assert after is True


def test_commands_sent_together_answer_in_order_and_an_error_waits_for_the_rest(
    redis_url: str,
) -> None:
    key = f"t:{secrets.token_hex(4)}"

    async def scenario() -> tuple[list[object], BaseException]:
        client = aioredis.Redis.from_url(redis_url)
        batcher = Batcher(client)
        try:
            replies = await batcher.commands(("SET", key, "1"), ("INCR", key), ("GET", key))
            try:
                await batcher.commands(("HGET", key, "field"), ("INCR", key))
            except ResponseError as error:
                return replies, error
            raise AssertionError("the wrong-type HGET was answered")
        finally:
            final = await client.get(key)
            await client.delete(key)
            await batcher.aclose()
            await client.aclose()
            assert final == b"3", "the INCR after the failing HGET still ran"

    replies, error = asyncio.run(scenario())

    assert replies == [True, 2, b"2"]
    assert "WRONGTYPE" in str(error)
