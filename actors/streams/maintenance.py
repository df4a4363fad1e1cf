"""Upkeep of a queue's partitions, run by its consumers: create the consumer groups, move due
delayed messages onto the streams, renew the leases of held entries, and reclaim entries whose
consumer went silent."""

from typing import NamedTuple

import redis
from redis.cluster import RedisCluster

from actors.streams.scripts import Scripts
from app.queue.connection import SyncClient
from app.queue.keys import CONSUMER_GROUP, delayed_key, delayed_messages_key, stream_key

#: Delayed messages moved per script call: bounds how long one call holds Redis.
MOVE_BATCH_MAX = 100
#: Script calls per partition per pass; a bigger backlog carries over to the next pass.
MOVE_BATCHES_MAX = 10
#: Entry ids per renewal script call: bounds ARGV and how long one call holds Redis.
RENEW_BATCH_MAX = 100
#: XAUTOCLAIM pages per partition per pass; each page scans at most 10 × its COUNT pending entries.
RECLAIM_PAGES_MAX = 4
#: XAUTOCLAIM's cursor at the start of the pending list, and its answer once the list is scanned.
RECLAIM_CURSOR_START = "0-0"


class Claimed(NamedTuple):
    """A pending entry taken over from a silent consumer."""

    partition: int
    entry_id: str
    body: bytes
    deliveries: int


def ensure_groups(client: SyncClient, queue_name: str, partitions: int) -> None:
    """Create the group on every partition stream, at id 0: entries the web process added
    before any worker existed must be delivered too, which ``$`` would skip."""
    for partition in range(partitions):
        try:
            client.xgroup_create(
                stream_key(partition, queue_name), CONSUMER_GROUP, id="0", mkstream=True
            )
        except redis.ResponseError as error:
            if not str(error).startswith("BUSYGROUP"):
                raise


def move_due(client: SyncClient, scripts: Scripts, queue_name: str, partitions: int) -> int:
    """Move the due delayed messages of every partition onto its stream; the number moved.

    On a single Redis the partitions' moves go out as one pipeline: each consumer thread runs
    this every second, and a round trip per partition cost a draining worker 2 % of its CPU,
    most of it handing the GIL back and forth. A cluster's partitions live on several nodes,
    and a pipeline there cannot load a forgotten script: one call each."""
    if isinstance(client, RedisCluster):
        return sum(
            _move_partition(scripts, queue_name, partition) for partition in range(partitions)
        )
    moving = list(range(partitions))
    moved_total = 0
    for _ in range(MOVE_BATCHES_MAX):
        pipeline = client.pipeline(transaction=False)
        for partition in moving:
            scripts.move(
                keys=_move_keys(queue_name, partition), args=[MOVE_BATCH_MAX], client=pipeline
            )
        moved = [int(count) for count in pipeline.execute()]
        moved_total += sum(moved)
        moving = [p for p, count in zip(moving, moved, strict=True) if count >= MOVE_BATCH_MAX]
        if not moving:
            break
    return moved_total


def _move_keys(queue_name: str, partition: int) -> list[str]:
    return [
        delayed_key(partition, queue_name),
        delayed_messages_key(partition, queue_name),
        stream_key(partition, queue_name),
    ]


def _move_partition(scripts: Scripts, queue_name: str, partition: int) -> int:
    keys = _move_keys(queue_name, partition)
    moved_total = 0
    for _ in range(MOVE_BATCHES_MAX):
        moved = int(scripts.move(keys=keys, args=[MOVE_BATCH_MAX]))
        moved_total += moved
        if moved < MOVE_BATCH_MAX:
            break
    return moved_total


def renew(scripts: Scripts, consumer_name: str, held: dict[str, list[str]]) -> int:
    """Reset the idle time of the held entries still pending to ``consumer_name``."""
    renewed = 0
    for stream, entry_ids in held.items():
        for start in range(0, len(entry_ids), RENEW_BATCH_MAX):
            batch = entry_ids[start : start + RENEW_BATCH_MAX]
            renewed += int(
                scripts.renew(keys=[stream], args=[CONSUMER_GROUP, consumer_name, *batch])
            )
    return renewed


def reclaim(
    scripts: Scripts,
    queue_name: str,
    partition: int,
    consumer_name: str,
    idle_ms: int,
    count_max: int,
) -> list[Claimed]:
    """Claim up to ``count_max`` entries of one partition idle for at least ``idle_ms``."""
    claimed: list[Claimed] = []
    cursor = RECLAIM_CURSOR_START
    for _ in range(RECLAIM_PAGES_MAX):
        reply = scripts.reclaim(
            keys=[stream_key(partition, queue_name)],
            args=[CONSUMER_GROUP, consumer_name, idle_ms, cursor, count_max - len(claimed)],
        )
        cursor = reply[0].decode()
        claimed.extend(
            Claimed(partition, entry_id.decode(), body, int(deliveries))
            for entry_id, body, deliveries in reply[1]
        )
        if cursor == RECLAIM_CURSOR_START or len(claimed) >= count_max:
            break
    return claimed
