"""One pipelined connection to a single Redis, for the batcher: each batch is written as it
comes, whatever is still in flight, and replies are matched to batches in the order Redis
answers them, parsed by hiredis as they arrive.

redis-py's asyncio pipeline costs 15-30 µs of CPU per command in a worker (a pipeline object,
a command stack, a pool checkout and per-reply awaits); this costs 3-5 µs (micro-benchmark,
batched HGETALLs at 400 in flight), and a draining worker makes about ten Redis calls per
payment. Only a ``redis://`` client is served this way (``RedisPipe.serves``); TLS, Unix
sockets and clusters keep redis-py's pipeline.

Replies mean what redis-py's pipeline makes of them: the connection speaks RESP3 as redis-py's
do, errors become its exception classes, and its response callbacks apply. A batch's commands
are sent before any later batch's, on one connection, so a ``WAIT`` at the end of a batch
counts this batch's writes. A connection that dies or stops answering is dropped with every
batch it held; the next batch opens a new one.
"""

import asyncio
import collections
from collections.abc import Iterable, Sequence
from typing import Any, TypeGuard

import hiredis
import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis._parsers.base import BaseParser

#: When the client names no connect timeout of its own.
CONNECT_TIMEOUT_S_DEFAULT = 5.0
#: The protocol redis-py's clients speak unless told otherwise, whose replies their callbacks
#: expect.
RESP_VERSION = 3
_NOT_ENOUGH_DATA = object()


def packed(arguments: Sequence[Any]) -> bytes:
    """One command in RESP, by hiredis's C packer; as redis-py does, a command name with
    spaces ("CONFIG GET") is several arguments."""
    name = arguments[0]
    if isinstance(name, str) and " " in name or isinstance(name, bytes) and b" " in name:
        arguments = (*name.split(), *arguments[1:])
    try:
        return hiredis.pack_command(tuple(arguments))
    except TypeError as error:
        raise redis_errors.DataError(str(error)) from error


def packed_all(commands: Iterable[Sequence[Any]]) -> bytes:
    """Several commands, packed back to back, as one write sends them."""
    return b"".join(packed(command) for command in commands)


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        # As redis-py's own hiredis parser: error replies come out as its exception classes.
        self._reader = hiredis.Reader(
            protocolError=redis_errors.InvalidResponse,
            replyError=BaseParser.parse_error,
            notEnoughData=_NOT_ENOUGH_DATA,
        )
        self._transport: asyncio.Transport | None = None
        #: Batches sent and not yet answered, oldest first: (its answer, replies expected,
        #: replies so far).
        self._waiting: collections.deque[tuple[asyncio.Future[list[Any]], int, list[Any]]] = (
            collections.deque()
        )
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        try:
            while self._waiting:
                answer, expected, replies = self._waiting[0]
                while len(replies) < expected:
                    reply = self._reader.gets()
                    if reply is _NOT_ENOUGH_DATA:
                        return
                    if not isinstance(reply, hiredis.PushNotification):
                        replies.append(reply)
                self._waiting.popleft()
                if not answer.done():
                    answer.set_result(replies)
        except (hiredis.ProtocolError, redis_errors.InvalidResponse) as error:
            self.drop(redis_errors.ConnectionError(f"Redis protocol error: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.drop(redis_errors.ConnectionError(f"connection to Redis lost: {exc!r}"))

    def send(self, data: bytes, expected: int) -> "asyncio.Future[list[Any]]":
        if self.lost or self._transport is None or self._transport.is_closing():
            raise redis_errors.ConnectionError("connection to Redis closed")
        answer: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiting.append((answer, expected, []))
        self._transport.write(data)
        return answer

    def drop(self, error: Exception) -> None:
        """Close the connection and fail every batch it still held with ``error``."""
        self.lost = True
        waiting, self._waiting = self._waiting, collections.deque()
        for answer, _, _ in waiting:
            if not answer.done():
                answer.set_exception(error)
        if self._transport is not None:
            self._transport.close()


class RedisPipe:
    """Batches of commands over one connection to the Redis ``client`` connects to, opened
    on first use in the running event loop."""

    def __init__(self, client: aioredis.Redis) -> None:
        options = client.connection_pool.connection_kwargs
        self._host = options.get("host", "localhost")
        self._port = int(options.get("port", 6379))
        password = options.get("password")
        # The protocol the client's callbacks were chosen for: RESP3 unless it names another.
        version = int(options.get("protocol") or RESP_VERSION)
        self._handshake: list[tuple[Any, ...]] = [
            ("HELLO", version)
            if password is None
            else ("HELLO", version, "AUTH", options.get("username") or "default", password)
        ]
        if options.get("db"):
            self._handshake.append(("SELECT", options["db"]))
        self._connect_timeout_s = options.get("socket_connect_timeout") or (
            CONNECT_TIMEOUT_S_DEFAULT
        )
        self._callbacks = client.response_callbacks
        self._connection: _Connection | None = None
        self._connecting = asyncio.Lock()

    @staticmethod
    def serves(client: object) -> TypeGuard[aioredis.Redis]:
        """Whether ``client`` talks plain TCP to a single Redis."""
        if not isinstance(client, aioredis.Redis):
            return False
        connection_class = client.connection_pool.connection_class
        return issubclass(connection_class, aioredis.Connection) and not issubclass(
            connection_class, aioredis.SSLConnection
        )

    async def execute(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Each command's reply as redis-py's pipeline gives it, or its error as an exception
        in its place; a failure of the connection itself is raised."""
        data = packed_all(commands)
        connection = await self._connected()
        replies = await connection.send(data, len(commands))
        parsed = self._parsed
        return [parsed(command, reply) for command, reply in zip(commands, replies, strict=True)]

    def drop(self) -> None:
        """Abandon the connection (a batch timed out on it): the next batch opens another."""
        if self._connection is not None:
            self._connection.drop(redis_errors.TimeoutError("Redis stopped answering"))
            self._connection = None

    async def aclose(self) -> None:
        if self._connection is not None:
            self._connection.drop(redis_errors.ConnectionError("closed"))
            self._connection = None

    def _parsed(self, command: Sequence[Any], reply: Any) -> Any:
        if isinstance(reply, Exception):
            return reply
        callback = self._callbacks.get(command[0])
        return reply if callback is None else callback(reply)

    async def _connected(self) -> _Connection:
        connection = self._connection
        if connection is not None and not connection.lost:
            return connection
        async with self._connecting:
            if self._connection is None or self._connection.lost:
                self._connection = await self._connect()
            return self._connection

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, connection = await loop.create_connection(_Connection, self._host, self._port)
                await self._greet(connection)
        except BaseException as error:
            # Connected but not greeted in time (or refused): never left open behind us.
            if connection is not None:
                connection.drop(redis_errors.ConnectionError("handshake not finished"))
            if isinstance(error, OSError | TimeoutError):
                raise redis_errors.ConnectionError(
                    f"cannot connect to Redis at {self._host}:{self._port}: {error!r}"
                ) from error
            raise
        return connection

    async def _greet(self, connection: _Connection) -> None:
        replies = await connection.send(packed_all(self._handshake), len(self._handshake))
        for reply in replies:
            if isinstance(reply, Exception):
                connection.drop(redis_errors.ConnectionError("handshake refused"))
                raise reply
