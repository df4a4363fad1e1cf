"""Redis calls made in the same event-loop turn, sent to Redis as one pipeline.

Under a spike many coroutines reach Redis at once; one round trip for all of them instead of one
each triples what a process can push through Redis (measured on accepts: ~8k vs ~24k script
calls/s per process) and keeps the connection count small however many calls are in flight.
Each command or script still runs on its own: the pipeline is not a transaction, and each caller
gets exactly its own reply or error.
"""

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

#: Calls per pipeline; a bound on one round trip's size, not a wait: nothing is held back.
BATCH_CALLS_MAX = 128


@dataclass(frozen=True)
class _Call:
    arguments: tuple[Any, ...]
    #: The script's source, for EVALSHA calls: loaded again if Redis has forgotten it.
    source: str | None
    future: "asyncio.Future[Any]"


class Batcher:
    def __init__(self, client: aioredis.Redis | RedisCluster) -> None:
        self._client = client
        self._waiting: list[_Call] = []

    def script(self, source: str) -> "BatchedScript":
        return BatchedScript(self, source)

    async def command(self, *arguments: Any) -> Any:
        """One Redis command, e.g. ``command("HGETALL", key)``; its reply as redis-py parses it."""
        return await self._submit(arguments, None)

    async def _submit(self, arguments: tuple[Any, ...], source: str | None) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append(_Call(arguments, source, future))
        if len(self._waiting) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        while self._waiting:
            batch = self._waiting[:BATCH_CALLS_MAX]
            del self._waiting[:BATCH_CALLS_MAX]
            asyncio.get_running_loop().create_task(self._send(batch))

    async def _send(self, batch: list[_Call]) -> None:
        try:
            replies = await self._execute(batch)
            refused = [call for call, reply in zip(batch, replies, strict=True) if _forgot(reply)]
            if refused:
                # A restarted or failed-over Redis forgot the script: load it, run again the
                # calls it refused (they did not run, so running them now is their only run).
                for source in {call.source for call in refused if call.source is not None}:
                    await self._client.script_load(source)
                retried = iter(await self._execute(refused))
                replies = [next(retried) if _forgot(reply) else reply for reply in replies]
        except Exception as error:  # every caller must hear of the failure, whatever it is
            for call in batch:
                if not call.future.done():
                    call.future.set_exception(error)
            return
        for call, reply in zip(batch, replies, strict=True):
            if call.future.done():
                continue  # the caller went away; its command ran all the same
            if isinstance(reply, Exception):
                call.future.set_exception(reply)
            else:
                call.future.set_result(reply)

    async def _execute(self, batch: list[_Call]) -> list[Any]:
        pipeline = self._client.pipeline(transaction=False)
        for call in batch:
            pipeline.execute_command(*call.arguments)
        return list(await pipeline.execute(raise_on_error=False))


class BatchedScript:
    """A Lua script run through a ``Batcher``, by its SHA (loaded again when forgotten)."""

    def __init__(self, batcher: Batcher, source: str) -> None:
        self._batcher = batcher
        self._source = source
        self._sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        arguments = ("EVALSHA", self._sha, len(keys), *keys, *args)
        return await self._batcher._submit(arguments, self._source)


def _forgot(reply: object) -> bool:
    return isinstance(reply, NoScriptError)
