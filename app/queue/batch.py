"""Redis calls made in the same event-loop turn, sent to Redis as one pipeline.

Under a spike many coroutines reach Redis at once; one round trip for all of them instead of one
each triples what a process can push through Redis (measured on accepts: ~8k vs ~24k script
calls/s per process) and keeps the connection count small however many calls are in flight.
Each command or script still runs on its own: the pipeline is not a transaction, and each caller
gets exactly its own reply or error.

Writes that must survive a primary's failover (a 202's accept, a worker's recovery point) are
made ``replicated``: the pipeline then ends with one ``WAIT`` per Redis node they ran on, on the
connection that sent them, and their callers hear of their success only once enough replicas
hold them (``REDIS_MIN_REPLICAS_ACKED``).
"""

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.queue.pipe import RedisPipe
from app.settings import Settings

logger = logging.getLogger(__name__)

#: Calls per pipeline; a bound on one round trip's size, not a wait: nothing is held back.
BATCH_CALLS_MAX = 128
#: Where the first key of an ``EVALSHA sha numkeys key ...`` call is.
_SCRIPT_FIRST_KEY_INDEX = 3


class ReplicasNotAcked(RedisError):
    """The primary ran the write but too few replicas confirmed it in time: a failover could
    still lose it. Rerunning it is safe (every replicated write replays), and the rerun waits
    for the replicas again."""


@dataclass(frozen=True)
class Replication:
    """How many replicas must hold a replicated write before its caller hears of it."""

    replicas_min: int = 0
    timeout_ms: int = Settings.redis_replicas_ack_timeout_ms

    @classmethod
    def of(cls, settings: Settings) -> "Replication":
        return cls(settings.redis_min_replicas_acked, settings.redis_replicas_ack_timeout_ms)


class _Call(NamedTuple):
    """One caller's command, made for every Redis call: a tuple, since a frozen dataclass
    costs several times as much to build (1 % of a draining worker's CPU)."""

    arguments: tuple[Any, ...]
    #: The script's source, for EVALSHA calls: loaded again if Redis has forgotten it.
    source: str | None
    future: "asyncio.Future[Any]"
    #: Its reply waits for the replicas (see ``Replication``).
    replicated: bool = False


class Batcher:
    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        replication: Replication | None = None,
        *,
        timeout_s: float | None = None,
    ) -> None:
        """``timeout_s`` bounds each pipeline, sent to answered, for a client whose replies
        have no socket timeout of their own (``app.queue.connection.worker_async_client``)."""
        self._client = client
        # A single Redis over plain TCP: batches go over one pipelined connection of our own.
        self._pipe = RedisPipe(client) if RedisPipe.serves(client) else None
        self._replication = replication or Replication()
        self._timeout_s = timeout_s
        self._waiting: list[_Call] = []

    def script(self, source: str, *, replicated: bool = False) -> "BatchedScript":
        return BatchedScript(self, source, replicated=replicated)

    async def command(self, *arguments: Any) -> Any:
        """One Redis command, e.g. ``command("HGETALL", key)``; its reply as redis-py parses it."""
        return await self._enqueue(arguments, None)

    async def commands(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Several commands in the same batch, waited for once: their replies, in order; the
        first error is raised once every reply is in."""
        futures = [self._enqueue(arguments, None) for arguments in commands]
        await asyncio.wait(futures)
        return [future.result() for future in futures]

    def _enqueue(
        self, arguments: tuple[Any, ...], source: str | None, replicated: bool = False
    ) -> "asyncio.Future[Any]":
        """``arguments`` queued for the next batch; its reply (or error) comes in the future."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append(_Call(arguments, source, future, replicated))
        if len(self._waiting) == 1:
            loop.call_soon(self._flush)
        return future

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
        if self._replication.replicas_min and isinstance(self._client, RedisCluster):
            # The node of each replicated write is read from the client's slot table, which a
            # client reset after a failed node empties until it learns the topology again.
            with _connection_lost_as_error():
                await self._client.initialize()
        waits = self._waits(batch)
        replicas_min = self._replication.replicas_min
        with _connection_lost_as_error():
            try:
                async with asyncio.timeout(self._timeout_s):
                    replies = await self._round_trip(batch, waits)
            except TimeoutError:
                # Cancelled mid-read, the connection is dropped: no late reply can be taken for
                # another call's.
                if self._pipe is not None:
                    self._pipe.drop()
                raise RedisTimeoutError(f"no answer in {self._timeout_s} s") from None
        acks = replies[len(batch) :]
        replies = replies[: len(batch)]
        for indices, acked in zip(waits.values(), acks, strict=True):
            if isinstance(acked, Exception) or int(acked) < replicas_min:
                for index in indices:
                    if not isinstance(replies[index], Exception):
                        replies[index] = ReplicasNotAcked(
                            f"{acked} of {replicas_min} replicas confirmed the write"
                        )
        return replies

    async def _round_trip(
        self, batch: list[_Call], waits: dict[ClusterNode | None, list[int]]
    ) -> list[Any]:
        """The replies to ``batch``, then to one ``WAIT`` per node in ``waits``."""
        wait = ("WAIT", self._replication.replicas_min, self._replication.timeout_ms)
        if self._pipe is not None:
            # One Redis, one connection: at most one WAIT, after the batch it counts.
            commands = [call.arguments for call in batch] + [wait] * len(waits)
            return await self._pipe.execute(commands)
        pipeline = self._client.pipeline(transaction=False)
        for call in batch:
            pipeline.execute_command(*call.arguments)
        for node in waits:
            # WAIT counts the replicas holding this connection's writes: on a cluster it must go
            # to the node, and so over the connection, that ran them.
            pipeline.execute_command(*wait, **({} if node is None else {"target_nodes": node}))
        return list(await pipeline.execute(raise_on_error=False))

    async def aclose(self) -> None:
        """Close the batcher's own connection, if it has one (the client closes the rest)."""
        if self._pipe is not None:
            await self._pipe.aclose()

    def _waits(self, batch: list[_Call]) -> dict[ClusterNode | None, list[int]]:
        """The replicated calls of ``batch`` by the node they run on (None: the one Redis)."""
        waits: dict[ClusterNode | None, list[int]] = {}
        if self._replication.replicas_min == 0:
            return waits
        for index, call in enumerate(batch):
            if not call.replicated:
                continue
            node = None
            if isinstance(self._client, RedisCluster):
                node = self._client.get_node_from_key(call.arguments[_SCRIPT_FIRST_KEY_INDEX])
            waits.setdefault(node, []).append(index)
        return waits


class BatchedScript:
    """A Lua script run through a ``Batcher``, by its SHA (loaded again when forgotten)."""

    def __init__(self, batcher: Batcher, source: str, *, replicated: bool = False) -> None:
        self._batcher = batcher
        self._source = source
        self._sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        self._replicated = replicated

    async def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        arguments = ("EVALSHA", self._sha, len(keys), *keys, *args)
        return await self._batcher._enqueue(arguments, self._source, self._replicated)


@contextlib.contextmanager
def _connection_lost_as_error() -> Iterator[None]:
    """What redis-py lets through when a node dies mid-write (it translates only OSError) made
    the connection error it is: uvloop refusing a write to the transport the node closed
    (RuntimeError), or a connection whose writer a failed command of another task already
    dropped (AttributeError on None). Its callers then get the "retry" every Redis outage
    gets, and every write they made replays when rerun."""
    try:
        yield
    except (RuntimeError, AttributeError) as error:
        logger.warning("Redis connection lost mid-call: %r", error)
        raise RedisConnectionError(f"connection lost: {error}") from error


def _forgot(reply: object) -> bool:
    return isinstance(reply, NoScriptError)
