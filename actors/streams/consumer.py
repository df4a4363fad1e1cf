"""The consumer of one queue's partition streams, and the message proxy it hands out."""

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import redis
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.errors import ConnectionClosed, DecodeError
from dramatiq.message import Message
from redis.cluster import RedisCluster
from redis.typing import KeyT, StreamIdT

from actors.streams import maintenance
from actors.streams.delivery import (
    REASON_DELIVERIES_EXCEEDED,
    REASON_REJECTED,
    REASON_UNDECODABLE,
    StreamMessageProxy,
    ack_call,
    dead_letter_call,
    requeue_call,
    stream_proxy,
)
from actors.streams.inflight import InFlight
from actors.streams.leases import Entry, Leases
from actors.streams.options import StreamOptions
from actors.streams.scripts import Scripts
from app.queue.connection import SyncClient
from app.queue.keys import CONSUMER_GROUP, stream_key

logger = logging.getLogger(__name__)

#: How often due delayed messages are moved onto the streams, in ms: the precision of a delay.
DELAYED_MOVE_INTERVAL_MS = 1000
#: How often the pending lists are scanned for entries of silent consumers, in ms. A pass costs
#: XAUTOCLAIM calls on every partition, and entries only qualify after reclaim_idle_ms anyway.
RECLAIM_INTERVAL_MS = 3000
#: Leases are renewed this many times per reclaim_idle_ms, so one late renewal never makes a held
#: entry look abandoned.
RENEWALS_PER_IDLE_PERIOD = 3

#: On a Redis Cluster a blocking read covers one partition (streams of two slots cannot be read
#: in one command), so it is cut this short: entries arriving on the other partitions wait at
#: most this long.
CLUSTER_BLOCK_MS_MAX = 100

#: What redis-py raises when the connection, not the command, failed. On a cluster a failed-over
#: master also shows as the slot's cluster being down until the client learns the new topology.
CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError)


class _Cadence:
    """A task due every ``interval_ms``, first at once."""

    def __init__(self, interval_ms: int) -> None:
        self._interval_s = interval_ms / 1000
        self._due_s = time.monotonic()

    def take(self, now_s: float) -> bool:
        """True when due; the next time is then one interval from ``now_s``."""
        if now_s < self._due_s:
            return False
        self._due_s = now_s + self._interval_s
        return True

    def ms_until(self, now_s: float) -> int:
        return max(0, int((self._due_s - now_s) * 1000))


class StreamsConsumer(Consumer):
    """Reads one queue's partition streams for the worker's consumer thread.

    ``__next__`` runs on the consumer thread while worker threads call ``ack`` and ``nack``: the
    shared state is the thread-safe ``leases`` (the broker's, shared by its successive consumers
    of the queue), and every Redis operation is one command or one script call on the client's
    connection pool.
    """

    def __init__(
        self,
        *,
        client: SyncClient,
        scripts: Scripts,
        options: StreamOptions,
        consumer_name: str,
        leases: Leases,
        queue_name: str,
        prefetch: int,
        timeout_ms: int,
        inflight: InFlight | None = None,
    ) -> None:
        if prefetch < 1 or timeout_ms < 1:
            raise ValueError("prefetch and timeout_ms must be positive")
        self._client = client
        self._scripts = scripts
        self._options = options
        self._consumer_name = consumer_name
        self._leases = leases
        self._queue_name = queue_name
        self._prefetch = prefetch
        self._timeout_ms = timeout_ms
        self._inflight = inflight
        self._cluster = isinstance(client, RedisCluster)
        self._streams = [
            stream_key(partition, queue_name) for partition in range(options.partitions)
        ]
        self._partitions = {stream: partition for partition, stream in enumerate(self._streams)}
        self._read_offset = 0
        self._buffer: deque[StreamMessageProxy] = deque()
        self._moves = _Cadence(DELAYED_MOVE_INTERVAL_MS)
        self._renewals = _Cadence(max(1, options.reclaim_idle_ms // RENEWALS_PER_IDLE_PERIOD))
        self._reclaims = _Cadence(RECLAIM_INTERVAL_MS)

    def __next__(self) -> StreamMessageProxy | None:
        try:
            if not self._buffer:
                self._fill()
        except CONNECTION_ERRORS as error:
            raise ConnectionClosed(error) from None
        if self._inflight is not None:
            self._hand_over_async()
        return self._buffer.popleft() if self._buffer else None

    def ack(self, message: MessageProxy) -> None:
        proxy = stream_proxy(message)
        if proxy.keep_pending:
            # Releasing the lease stops its renewal, so reclaim delivers the entry again.
            self._leases.release(proxy.stream_entry)
            return
        keys, args = ack_call(proxy.stream_entry)
        self._settle(proxy, lambda: self._scripts.ack(keys=keys, args=args))

    def nack(self, message: MessageProxy) -> None:
        proxy = stream_proxy(message)
        # The processed message, not the stored one: its options carry retries and traceback.
        body = proxy.encode()
        self._settle(
            proxy,
            lambda: self._dead_letter(proxy.partition, proxy.stream_entry, body, REASON_REJECTED),
        )

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        proxies = [stream_proxy(message) for message in messages]
        # Released first: whatever a connection error keeps from being requeued is left to
        # reclaim, instead of being renewed for ever by a process that will never run it.
        for proxy in proxies:
            self._leases.release(proxy.stream_entry)
        try:
            for proxy in proxies:
                keys, args = requeue_call(self._consumer_name, proxy.stream_entry)
                self._scripts.requeue(keys=keys, args=args)
        except CONNECTION_ERRORS as error:
            raise ConnectionClosed(error) from None

    def _hand_over_async(self) -> None:
        """Messages of async actors run in flight; the rest go to Dramatiq's worker threads."""
        if self._inflight is None:
            return
        kept: deque[StreamMessageProxy] = deque()
        handed: list[StreamMessageProxy] = []
        for proxy in self._buffer:
            (handed if self._inflight.takes(proxy.actor_name) else kept).append(proxy)
        self._buffer = kept
        self._inflight.submit(handed)

    def close(self) -> None:
        """Give back the entries read but never handed to the worker."""
        buffered = list(self._buffer)
        self._buffer.clear()
        self.requeue(buffered)

    def _settle(self, proxy: StreamMessageProxy, operation: Callable[[], Any]) -> None:
        try:
            operation()
        except CONNECTION_ERRORS as error:
            # The worker retries the ack or nack until it succeeds: the entry stays leased.
            raise ConnectionClosed(error) from None
        except BaseException:
            self._leases.release(proxy.stream_entry)
            raise
        self._leases.release(proxy.stream_entry)

    def _fill(self) -> None:
        self._maintain()
        if self._buffer:
            return
        capacity = self._prefetch - self._leases.count()
        if capacity <= 0:
            # Prefetch is full: wait for a worker thread to settle a message, not for Redis.
            self._leases.wait_below(self._prefetch, self._wait_ms() / 1000)
            return
        count_total = min(capacity, self._options.read_count_max)
        try:
            tops = self._read(count_total)
            if tops and self._wait_for_new(tops):
                self._read(count_total)
        except redis.ResponseError as error:
            if not _is_missing_group(error):
                raise
            # A flush or a Redis that lost its data took the group: create it again at id 0.
            maintenance.ensure_groups(self._client, self._queue_name, self._options.partitions)

    def _maintain(self) -> None:
        now_s = time.monotonic()
        if self._moves.take(now_s):
            maintenance.move_due(
                self._client, self._scripts, self._queue_name, self._options.partitions
            )
        if self._renewals.take(now_s):
            maintenance.renew(self._scripts, self._consumer_name, self._leases.by_stream())
        # Runs even when prefetch is full: under a steady backlog no consumer is ever idle, and
        # the entries of a dead one must still come back.
        if self._reclaims.take(now_s):
            self._reclaim()

    def _reclaim(self) -> None:
        for partition in range(self._options.partitions):
            claimed_entries = maintenance.reclaim(
                self._scripts,
                self._queue_name,
                partition,
                self._consumer_name,
                self._options.reclaim_idle_ms,
                self._options.read_count_max,
            )
            for claimed in claimed_entries:
                self._adopt(claimed)

    def _adopt(self, claimed: maintenance.Claimed) -> None:
        entry = Entry(self._streams[claimed.partition], claimed.entry_id)
        if self._leases.holds(entry):
            # Ours and still held (a renewal ran late): claiming only reset its idle time.
            return
        if claimed.deliveries > self._options.deliveries_max:
            logger.error(
                "Dead-lettering entry %s of %s after %d deliveries.",
                entry.entry_id,
                entry.stream_key,
                claimed.deliveries,
            )
            self._dead_letter(claimed.partition, entry, claimed.body, REASON_DELIVERIES_EXCEEDED)
            return
        self._accept(entry, claimed.body)

    def _read(self, count_total: int) -> dict[KeyT, StreamIdT]:
        """Buffer up to ``count_total`` new entries; when there were none, the newest entry id of
        each stream, to wait from."""
        streams = self._next_streams()
        if self._cluster:
            # A script's keys must share a slot: one call per partition, in the rotated order,
            # until the count is delivered.
            tops: dict[KeyT, StreamIdT] = {}
            remaining = count_total
            for stream in streams:
                delivered_count, stream_tops = self._read_streams([stream], remaining)
                remaining -= delivered_count
                tops.update(stream_tops)
                if remaining == 0:
                    break
            return {} if remaining < count_total else tops
        return self._read_streams(streams, count_total)[1]

    def _read_streams(
        self, streams: list[str], count_total: int
    ) -> tuple[int, dict[KeyT, StreamIdT]]:
        delivered, tops = self._scripts.read(
            keys=streams,
            args=[CONSUMER_GROUP, self._consumer_name, count_total],
        )
        for stream, entry_id, body in delivered:
            self._accept(Entry(stream.decode(), entry_id.decode()), body)
        if delivered:
            return len(delivered), {}
        return 0, {stream: top.decode() for stream, top in zip(streams, tops, strict=True)}

    def _wait_for_new(self, tops: dict[KeyT, StreamIdT]) -> bool:
        """Block until an entry newer than ``tops`` arrives on any partition; False on timeout.

        Plain XREAD claims nothing, so whatever wakes it is read through the group afterwards
        (or was already taken by another consumer)."""
        if self._cluster:
            # One stream per blocking read on a cluster: the partition read first, briefly.
            stream, top = next(iter(tops.items()))
            block_ms = min(self._wait_ms(), CLUSTER_BLOCK_MS_MAX)
            return bool(self._client.xread({stream: top}, count=1, block=block_ms))
        reply = self._client.xread(tops, count=1, block=self._wait_ms())
        return bool(reply)

    def _next_streams(self) -> list[str]:
        """All streams, starting one further each read, so no partition is always read last."""
        start = self._read_offset
        self._read_offset = (start + 1) % len(self._streams)
        return self._streams[start:] + self._streams[:start]

    def _accept(self, entry: Entry, body: bytes) -> None:
        partition = self._partitions[entry.stream_key]
        try:
            message = Message.decode(body)
        except DecodeError:
            logger.error(
                "Dead-lettering undecodable entry %s of %s.", entry.entry_id, entry.stream_key
            )
            self._dead_letter(partition, entry, body, REASON_UNDECODABLE)
            return
        # The streams only ever hold due messages. A leftover eta would make the worker park the
        # message in its in-memory delay queue and enqueue it a second time.
        message.options.pop("eta", None)
        self._leases.take(entry)
        self._buffer.append(StreamMessageProxy(message, partition=partition, stream_entry=entry))

    def _dead_letter(self, partition: int, entry: Entry, body: bytes, reason: str) -> None:
        keys, args = dead_letter_call(self._queue_name, partition, entry, body, reason)
        self._scripts.dead_letter(keys=keys, args=args)

    def _wait_ms(self) -> int:
        """How long one wait may last: the idle timeout, cut short by the next maintenance due."""
        now_s = time.monotonic()
        cadences = [self._moves, self._reclaims]
        if self._leases.count():
            cadences.append(self._renewals)
        maintenance_ms = min(cadence.ms_until(now_s) for cadence in cadences)
        # BLOCK 0 would mean "for ever".
        return max(1, min(self._timeout_ms, self._options.block_ms, maintenance_ms))


def _is_missing_group(error: redis.ResponseError) -> bool:
    text = str(error)
    return text.startswith("NOGROUP") or text.startswith("UNBLOCKED")
