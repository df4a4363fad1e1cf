"""A Dramatiq broker on partitioned Redis Streams with consumer groups (DESIGN.md §4).

Each queue is ``partitions`` streams, ``{ps:N}:q:<queue>``, read by the group ``workers``. An ack
deletes the entry, so a stream only ever holds work not yet done and is never trimmed. Delays
(Retries' backoff) are not Dramatiq delay queues: they wait in a per-partition sorted set and a
Lua mover puts them on the stream when due. Entries of a consumer that went silent are reclaimed
and, past ``deliveries_max`` deliveries, moved to the partition's dead-letter stream.
"""

import logging
import os
import secrets
import socket
import threading
import time
import zlib
from typing import Any

from dramatiq.broker import Broker
from dramatiq.common import current_millis
from dramatiq.errors import ConnectionClosed, QueueJoinTimeout, QueueNotFound
from dramatiq.message import Message
from dramatiq.middleware import Middleware

from actors.streams import maintenance
from actors.streams.consumer import CONNECTION_ERRORS, StreamsConsumer
from actors.streams.delivery import StreamMessageProxy, requeue_call
from actors.streams.inflight import DrainInFlight, InFlight, is_async_actor
from actors.streams.leases import Leases
from actors.streams.options import StreamOptions
from actors.streams.scripts import register_scripts
from app.queue.connection import AsyncClient, SyncClient
from app.queue.keys import (
    CONSUMER_GROUP,
    MESSAGE_FIELD,
    dead_key,
    delayed_key,
    delayed_messages_key,
    stream_key,
)

logger = logging.getLogger(__name__)

#: How long a consumer waits for a message before it answers None, when the caller gives no
#: timeout, in ms (the worker always gives its own).
CONSUME_TIMEOUT_MS = 5000
#: How often join() looks at the queue's keys, in ms.
JOIN_POLL_INTERVAL_MS = 100
#: Random bytes (hex in the name) that keep apart two brokers with the same host and pid.
CONSUMER_SUFFIX_BYTES = 4


class StreamsBroker(Broker):
    """Dramatiq's broker contract on Redis Streams; see the module docstring for the layout.

    ``client`` must return bytes (no ``decode_responses``); ``StreamOptions`` holds the limits.
    """

    def __init__(
        self,
        *,
        client: SyncClient,
        options: StreamOptions,
        async_client: AsyncClient | None = None,
        middleware: list[Middleware] | None = None,
        consumer_name: str | None = None,
    ) -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("the client must not decode responses: messages are bytes")
        if consumer_name == "":
            raise ValueError("consumer_name must not be empty")
        super().__init__(middleware=middleware)
        self.add_middleware(DrainInFlight())
        self.client = client
        self.async_client = async_client
        self.options = options
        self.queues: set[str] = set()
        self.scripts = register_scripts(client)
        self._consumer_name = consumer_name
        self._consumer_suffix = secrets.token_hex(CONSUMER_SUFFIX_BYTES)
        self._leases: dict[str, Leases] = {}
        self._inflight: InFlight | None = None
        self._inflight_lock = threading.Lock()

    @property
    def consumer_name(self) -> str:
        """This process's name in the consumer groups; the pid is read live, so a forked child
        never shares its parent's name (and with it the parent's pending entries)."""
        if self._consumer_name is not None:
            return self._consumer_name
        return f"{socket.gethostname()}-{os.getpid()}-{self._consumer_suffix}"

    def declare_queue(self, queue_name: str) -> None:
        """Record the queue; no Redis I/O, so importing the actors needs no reachable Redis.
        The groups are created by ``consume`` (and ``join``), before anything reads them."""
        if queue_name in self.queues:
            return
        self.emit_before("declare_queue", queue_name)
        self.queues.add(queue_name)
        self.emit_after("declare_queue", queue_name)

    @property
    def partitions(self) -> int:
        return self.options.partitions

    def ensure_groups(self, queue_name: str) -> None:
        maintenance.ensure_groups(self.client, queue_name, self.partitions)

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        partition = self.partition_of(message)
        stored = message
        if delay is not None:
            stored = message.copy(options={"eta": current_millis() + delay})
        self.emit_before("enqueue", stored, delay)
        try:
            self._store(stored, partition, delay)
        except Exception as error:
            if isinstance(message, StreamMessageProxy):
                # Retries enqueues the retry, then the worker acks the original: without the
                # retry stored, that ack would lose the message.
                message.keep_pending = True
            if isinstance(error, CONNECTION_ERRORS):
                raise ConnectionClosed(error) from None
            raise
        self.emit_after("enqueue", stored, delay)
        return stored

    def partition_of(self, message: Message[Any]) -> int:
        """``options["partition"]`` when the sender chose one (the payment's), else by id."""
        chosen = message.options.get("partition")
        if chosen is None:
            return zlib.crc32(message.message_id.encode()) % self.partitions
        partition = int(chosen)
        if not 0 <= partition < self.partitions:
            raise ValueError(f"partition {partition} is outside 0..{self.partitions - 1}")
        return partition

    def _store(self, message: Message[Any], partition: int, delay: int | None) -> None:
        body = message.encode()
        queue_name = message.queue_name
        if delay is None:
            # Never MAXLEN: trimming deletes entries that are still pending. Acks delete instead.
            self.client.xadd(
                stream_key(partition, queue_name), {MESSAGE_FIELD: body}, id="*", maxlen=None
            )
            return
        self.scripts.schedule(
            keys=[delayed_key(partition, queue_name), delayed_messages_key(partition, queue_name)],
            args=[message.message_id, delay, body],
        )

    def consume(
        self, queue_name: str, prefetch: int = 1, timeout: int = CONSUME_TIMEOUT_MS
    ) -> StreamsConsumer:
        self._require_declared(queue_name)
        try:
            # A Redis that lost its data lost the groups too; a restarted consumer recreates them.
            self.ensure_groups(queue_name)
        except CONNECTION_ERRORS as error:
            raise ConnectionClosed(error) from None
        inflight = self._inflight_for(queue_name)
        return StreamsConsumer(
            client=self.client,
            scripts=self.scripts,
            options=self.options,
            consumer_name=self.consumer_name,
            leases=self.leases(queue_name),
            queue_name=queue_name,
            # Async messages are bounded by the concurrency, not by Dramatiq's thread count.
            prefetch=prefetch if inflight is None else self.options.concurrency,
            timeout_ms=timeout,
            inflight=inflight,
        )

    def _inflight_for(self, queue_name: str) -> InFlight | None:
        """The in-flight runner when the queue's actors are async: one per process, for every
        queue, kept across consumer restarts so messages in flight outlive a lost connection."""
        actors = [actor for actor in self.actors.values() if actor.queue_name == queue_name]
        if not any(is_async_actor(actor.fn) for actor in actors):
            return None
        with self._inflight_lock:
            if self._inflight is None:
                if self.async_client is None:
                    raise ValueError(
                        f"queue {queue_name!r} has async actors: give the broker async_client"
                    )
                self._inflight = InFlight(self, self.async_client, self.leases)
                self._inflight.start()
            return self._inflight

    def drain_inflight(self) -> None:
        """Let async messages finish within the shutdown grace, hand the rest back."""
        with self._inflight_lock:
            inflight, self._inflight = self._inflight, None
        if inflight is not None:
            cut_off = inflight.close(self.options.shutdown_grace_ms / 1000)
            for proxy in cut_off:
                self.leases(proxy.queue_name).release(proxy.stream_entry)
                keys, args = requeue_call(self.consumer_name, proxy.stream_entry)
                try:
                    self.scripts.requeue(keys=keys, args=args)
                except CONNECTION_ERRORS:
                    logger.warning("could not hand %s back; reclaim will", proxy.message_id)

    def leases(self, queue_name: str) -> Leases:
        """The entries this process holds on ``queue_name``, shared by its successive consumers."""
        return self._leases.setdefault(queue_name, Leases())

    def get_declared_queues(self) -> set[str]:
        return set(self.queues)

    def flush(self, queue_name: str) -> None:
        """Drop the queue's messages: streams, delayed messages and dead letters (a test helper)."""
        self._require_declared(queue_name)
        for partition in range(self.partitions):
            stream = stream_key(partition, queue_name)
            # One transaction per partition (one slot): consumers never see the group missing.
            pipeline = self.client.pipeline(transaction=True)
            pipeline.delete(
                stream,
                delayed_key(partition, queue_name),
                delayed_messages_key(partition, queue_name),
                dead_key(partition, queue_name),
            )
            pipeline.xgroup_create(stream, CONSUMER_GROUP, id="0", mkstream=True)
            pipeline.execute()

    def flush_all(self) -> None:
        for queue_name in self.queues:
            self.flush(queue_name)

    def join(self, queue_name: str, *, timeout: int | None = None) -> None:
        """Wait until the queue has nothing unread, pending or delayed; ``timeout`` in ms."""
        self._require_declared(queue_name)
        self.ensure_groups(queue_name)
        deadline_s = None if timeout is None else time.monotonic() + timeout / 1000
        while self.unfinished_count(queue_name) > 0:
            if deadline_s is not None and time.monotonic() >= deadline_s:
                raise QueueJoinTimeout(queue_name)
            time.sleep(JOIN_POLL_INTERVAL_MS / 1000)

    def unfinished_count(self, queue_name: str) -> int:
        """Stream length + pending + delayed over all partitions: 0 once everything is settled.

        Pending entries also count in the stream length (acks delete them); they are added so an
        entry pending without a payload still counts."""
        pipeline = self.client.pipeline(transaction=False)
        for partition in range(self.partitions):
            pipeline.xlen(stream_key(partition, queue_name))
            pipeline.xpending(stream_key(partition, queue_name), CONSUMER_GROUP)
            pipeline.zcard(delayed_key(partition, queue_name))
        replies = pipeline.execute()
        lengths = replies[0::3]
        pending = [summary["pending"] for summary in replies[1::3]]
        delayed = replies[2::3]
        return int(sum(lengths) + sum(pending) + sum(delayed))

    def _require_declared(self, queue_name: str) -> None:
        if queue_name not in self.queues:
            raise QueueNotFound(queue_name)
